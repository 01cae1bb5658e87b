//! The fuzz targets: for each kind of user input, a generator that mutates a valid
//! example (a seed picks the mutation) and an executor that feeds the bytes to the entry
//! points a user reaches: experiment files are parsed, validated, resolved against their
//! dataset, checked against the memory bounds, built and trained for a few steps;
//! descriptors, CSV, libFM and cache bytes are loaded and summarised; filters are parsed
//! and matched; run folders are read back into the history, compared and diffed.
//!
//! Shared by the long-run driver (`examples/fuzz/main.rs`) and the bounded CI run
//! (`tests/fuzz.rs`). An input is a plain byte string, so a saved crash replays as is.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::data::descriptor::{BUILT_IN, Format, LoadedDescriptor};
use apg_bench::data::{self, LoadOptions};
use apg_bench::runs::compare::{CompareOptions, compare};
use apg_bench::runs::filter::{Filter, SortKey};
use apg_bench::runs::{History, RunWriter};
use apg_bench::train::Event;
use apg_bench::train::trainer::{TrainJob, spawn};
use arbitrary::Unstructured;
use rand::{RngCore, SeedableRng};

use crate::mutate;

/// What a case did, short of panicking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Refused with a clean error (the message).
    Rejected(String),
    Accepted,
}

/// How a case ended, panics included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Rejected,
    Accepted,
    /// The panic message (with its location when the panic hook saw it).
    Panic(String),
}

pub struct Target {
    pub name: &'static str,
    generate: fn(&Env, &mut Unstructured) -> arbitrary::Result<Vec<u8>>,
    execute: fn(&Env, &[u8]) -> Verdict,
}

pub const TARGETS: &[Target] = &[
    Target { name: "experiment", generate: gen_experiment, execute: run_experiment },
    Target { name: "descriptor", generate: gen_descriptor, execute: run_descriptor },
    Target { name: "csv", generate: gen_csv, execute: run_csv },
    Target { name: "libfm", generate: gen_libfm, execute: run_libfm },
    Target { name: "cache", generate: gen_cache, execute: run_cache },
    Target { name: "filter", generate: gen_filter, execute: run_filter },
    Target { name: "runs", generate: gen_runs, execute: run_runs },
];

pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

impl Target {
    /// The input of case `seed`: a mutation of a valid example, the same for a seed.
    pub fn input(&self, env: &Env, seed: u64) -> Vec<u8> {
        let stream = self.name.bytes().fold(seed, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
        let mut entropy = vec![0u8; 8192];
        rand_pcg::Pcg64::seed_from_u64(stream).fill_bytes(&mut entropy);
        let mut u = Unstructured::new(&entropy);
        (self.generate)(env, &mut u).unwrap_or_default()
    }

    /// Runs one input, catching a panic (also one on the trainer thread).
    pub fn run(&self, env: &Env, input: &[u8]) -> Outcome {
        take_last_panic();
        match std::panic::catch_unwind(AssertUnwindSafe(|| (self.execute)(env, input))) {
            Ok(Verdict::Accepted) => Outcome::Accepted,
            Ok(Verdict::Rejected(_)) => Outcome::Rejected,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".into());
                let located = take_last_panic();
                Outcome::Panic(located.unwrap_or(message))
            }
        }
    }

    /// Runs one input and says what it did, rejection messages included (for replays).
    pub fn explain(&self, env: &Env, input: &[u8]) -> String {
        match std::panic::catch_unwind(AssertUnwindSafe(|| (self.execute)(env, input))) {
            Ok(Verdict::Accepted) => "accepted".into(),
            Ok(Verdict::Rejected(message)) => format!("rejected: {message}"),
            Err(_) => format!("panicked: {}", take_last_panic().unwrap_or_default()),
        }
    }
}

/// The last panic's message and location, from any thread (the trainer's included).
static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn take_last_panic() -> Option<String> {
    LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Replaces the panic hook by one that records the message and location for [`Target::run`]
/// instead of printing it (when `quiet`), or as well as printing it.
pub fn install_panic_hook(quiet: bool) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info.to_string();
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
        if !quiet {
            default(info);
        }
    }));
}

// ---- The environment: example files in a scratch folder ----

/// Rows of the tiny synthetic dataset experiments train on.
const TINY_ROWS: usize = 600;
/// Dense parameters above which an accepted experiment is validated only, not trained:
/// the point is reaching the code, not training big models on two shared cores.
const TRAIN_BUDGET: f64 = 300_000.0;
/// Steps an accepted experiment trains at most.
const TRAIN_STEPS: usize = 3;

/// A scratch folder with the example inputs every target starts from. The process's
/// current folder is moved into it, so that built-in descriptors find their data files
/// (`datasets/example/`, `datasets/frappe/`) here and never in the repository.
pub struct Env {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    /// The tiny synthetic descriptor, `experiments/tiny.toml`.
    pub tiny: String,
    /// A valid cache file of the tiny dataset and its fingerprint.
    pub cache_bytes: Vec<u8>,
    pub fingerprint: String,
    /// A real run folder (trained and closed): file name and bytes.
    pub run_files: Vec<(&'static str, Vec<u8>)>,
    pub run_id: String,
    /// Rows to match filters against: the real run and variants of it.
    pub history: History,
    scratch: AtomicUsize,
}

const DEMO: &[&str] = &[
    include_str!("../../workspaces/demo/experiments/ablation-static.toml"),
    include_str!("../../workspaces/demo/experiments/ablation-v1.toml"),
    include_str!("../../workspaces/demo/experiments/ablation-v2.toml"),
    include_str!("../../workspaces/demo/experiments/ablation-v3.toml"),
    include_str!("../../workspaces/demo/experiments/ablation-v4.toml"),
    include_str!("../../workspaces/demo/experiments/ablation-v5.toml"),
    include_str!("../../workspaces/demo/experiments/apg-group.toml"),
    include_str!("../../workspaces/demo/experiments/apg-mix.toml"),
    include_str!("../../workspaces/demo/experiments/apg-placebo.toml"),
    include_str!("../../workspaces/demo/experiments/apg-self.toml"),
    include_str!("../../workspaces/demo/experiments/static-dnn.toml"),
];

const CLICKS_CSV: &[u8] = include_bytes!("../../datasets/example/clicks.csv");

/// Fields of the tiny dataset and the example CSV, for plausible values.
const FIELDS: &[&str] = &[
    "user",
    "item",
    "item_category",
    "domain",
    "device",
    "hour",
    "price",
    "user_activity",
    "user_activity_q",
    "item_popularity",
    "domain_placebo",
    "tags",
    "age",
    "age_bucket",
    "user_id",
    "clicked",
    "ts",
    "c1",
    "label",
    "nosuchfield",
];

fn built_in(name: &str) -> &'static str {
    BUILT_IN.iter().find(|(n, _)| *n == name).expect("a built-in descriptor").1
}

/// The built-in synthetic descriptor, shrunk to `TINY_ROWS` rows.
fn tiny_descriptor() -> String {
    built_in("synthetic-multidomain")
        .replace("rows = 200000", &format!("rows = {TINY_ROWS}"))
        .replace("users = 5000", "users = 80")
        .replace("items = 3000", "items = 60")
        .replace("categories = 24", "categories = 8")
}

/// Tiny libFM files in Frappe's layout: ten one-hot fields, labels +1 / -1.
fn libfm_file(rows: usize, salt: usize) -> Vec<u8> {
    let mut out = String::new();
    for r in 0..rows {
        let label = if (r * 7 + salt).is_multiple_of(3) { "1" } else { "-1" };
        out += label;
        for f in 0..10 {
            out += &format!(" {}:1", f * 100 + (r * (f + 3) + salt) % (5 + f));
        }
        out += "\n";
    }
    out.into_bytes()
}

const LIBFM_FILES: [&str; 3] = ["frappe.train.libfm", "frappe.validation.libfm", "frappe.test.libfm"];

impl Env {
    /// Writes the examples, builds the cache file and trains one real run (a second or so).
    pub fn create() -> Env {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let root = dir.path().canonicalize().expect("the scratch folder exists");
        let write = |relative: &str, bytes: &[u8]| {
            let path = root.join(relative);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create folders");
            std::fs::write(path, bytes).expect("write an example");
        };
        let tiny = tiny_descriptor();
        write("experiments/tiny.toml", tiny.as_bytes());
        write("datasets/example/clicks.csv", CLICKS_CSV);
        for (i, name) in LIBFM_FILES.iter().enumerate() {
            write(&format!("datasets/frappe/{name}"), &libfm_file([120, 30, 30][i], i));
        }
        std::env::set_current_dir(&root).expect("enter the scratch folder");

        let descriptor = LoadedDescriptor::from_file(&root.join("experiments/tiny.toml")).expect("tiny loads");
        let cache_dir = root.join("cache-template");
        let options = LoadOptions { cache_dir: Some(cache_dir.clone()), no_cache: false };
        let (dataset, _) = data::load(&descriptor, &options).expect("the tiny dataset loads");
        let cache_bytes =
            std::fs::read(data::cache::cache_path(&cache_dir, &descriptor.descriptor.name)).expect("a cache");

        let (run_files, run_id) = template_run(&root);
        let history = template_history(&root, &run_files, &run_id);
        Env {
            _dir: dir,
            root,
            tiny,
            cache_bytes,
            fingerprint: dataset.fingerprint,
            run_files,
            run_id,
            history,
            scratch: AtomicUsize::new(0),
        }
    }

    /// A new empty folder for one case.
    fn scratch(&self) -> PathBuf {
        let n = self.scratch.fetch_add(1, Ordering::Relaxed);
        let path = self.root.join("scratch").join(n.to_string());
        std::fs::create_dir_all(&path).expect("create a scratch folder");
        path
    }
}

/// Removes a case's scratch folder when the case ends, panicking or not.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The experiment of the template run and of the data targets' training.
const SMALL_EXPERIMENT: &str = "dataset = \"tiny.toml\"\n[model]\nhidden = [8]\n[apg]\nvariant = \"v4\"\nrank = [2]\n\
    [apg.condition]\nmode = \"group\"\nfields = [\"domain\"]\n[train]\nbatch_size = 64\nmax_steps = 4\neval_every = 2\n\
    patience = 0\n[metrics]\ngauc_field = \"user\"\ngroup_fields = [\"user_activity\"]\n";

/// Trains one tiny run into a real run folder and returns its files.
fn template_run(root: &Path) -> (Vec<(&'static str, Vec<u8>)>, String) {
    let experiments = root.join("template/experiments");
    std::fs::create_dir_all(&experiments).expect("create folders");
    std::fs::write(experiments.join("tiny.toml"), tiny_descriptor()).expect("write");
    std::fs::write(experiments.join("small.toml"), SMALL_EXPERIMENT).expect("write");
    let loaded = LoadedExperiment::from_file(&experiments.join("small.toml")).expect("the template experiment");
    let mut writer = RunWriter::create(&loaded, 1, apg_bench::config::Device::Cpu).expect("a run folder");
    let load = LoadOptions { cache_dir: Some(root.join("cache")), no_cache: false };
    let handle =
        spawn(TrainJob { experiment: loaded, seed: 1, device: apg_bench::config::Device::Cpu, checkpoint: None, load });
    for event in handle.events.iter() {
        writer.record(&event).expect("record");
    }
    handle.join().expect("the template run trains");
    let dir = writer.dir().to_path_buf();
    let id = writer.id().to_string();
    writer.close(false).expect("close");
    let files = [
        apg_bench::runs::MANIFEST_FILE,
        apg_bench::runs::CONFIG_FILE,
        apg_bench::runs::METRICS_FILE,
        apg_bench::runs::SUMMARY_FILE,
        apg_bench::runs::LOG_FILE,
    ]
    .into_iter()
    .map(|name| (name, std::fs::read(dir.join(name)).expect("a run file")))
    .collect();
    (files, id)
}

/// The manifest of a variant of the template run.
fn variant_manifest(suffix: &str, text: &str) -> String {
    match suffix {
        "-tagged" => format!("{text}tags = [\"keep\", \"best\"]\nnote = \"a note\"\n"),
        "-running" => text.replace("status = \"finished\"", "status = \"running\""),
        _ => text.to_string(),
    }
}

/// A history of the template run and variants (tagged, running without a summary),
/// for filters to match.
fn template_history(root: &Path, files: &[(&'static str, Vec<u8>)], id: &str) -> History {
    let workspace = root.join("history");
    for suffix in ["", "-tagged", "-running"] {
        let dir = workspace.join("runs").join(format!("{id}{suffix}"));
        std::fs::create_dir_all(&dir).expect("create folders");
        for (name, bytes) in files {
            let bytes = if *name == apg_bench::runs::MANIFEST_FILE {
                variant_manifest(suffix, &String::from_utf8_lossy(bytes))
                    .replace(id, &format!("{id}{suffix}"))
                    .into_bytes()
            } else {
                bytes.clone()
            };
            if !(suffix == "-running" && *name == apg_bench::runs::SUMMARY_FILE) {
                std::fs::write(dir.join(name), bytes).expect("write");
            }
        }
    }
    History::load(&workspace).expect("the template history loads")
}

/// Trains `loaded` for a few steps on the trainer thread, as a run does; a trainer panic
/// is raised again here.
fn train_briefly(loaded: &mut LoadedExperiment, load: LoadOptions, checkpoint: Option<PathBuf>) -> Verdict {
    let train = &mut loaded.experiment.train;
    if train.max_steps == 0 || train.max_steps > TRAIN_STEPS {
        train.max_steps = TRAIN_STEPS;
    }
    train.threads = 1;
    let seed = loaded.experiment.seed;
    let device = loaded.experiment.device;
    let handle = spawn(TrainJob { experiment: loaded.clone(), seed, device, checkpoint, load });
    let mut verdict = Verdict::Rejected("the trainer ended without Finished or Failed".into());
    for event in handle.events.iter() {
        match event {
            Event::Finished { .. } => verdict = Verdict::Accepted,
            Event::Failed { error } => verdict = Verdict::Rejected(error),
            _ => {}
        }
    }
    if let Err(panic) = handle.join() {
        panic!("the trainer panicked: {panic}");
    }
    verdict
}

/// The dense parameters the experiment's validation estimates.
fn dense_parameters(loaded: &LoadedExperiment) -> f64 {
    loaded.dense_parameter_terms().iter().map(|(_, n)| n).sum()
}

/// Whether loading `descriptor`'s data stays small enough to do per case: the
/// synthetic generator is bounded by memory only, so a valid spec can take minutes.
fn small_enough(descriptor: &LoadedDescriptor) -> bool {
    let d = &descriptor.descriptor;
    match (&d.source.format, &d.synthetic) {
        (Format::Synthetic, Some(s)) => {
            s.rows <= 3000 && s.users <= 20_000 && s.items <= 20_000 && s.categories <= 2000 && s.domains <= 2000
        }
        (Format::Synthetic, None) => true,
        // Data files are the examples (small), or the real MovieLens (not in the scratch folder).
        _ => d.name != "movielens-100k",
    }
}

// ---- experiment: demo experiment files ----

const EXPERIMENT_KEYS: &[&str] = &[
    "name",
    "description",
    "dataset",
    "seed",
    "device",
    "model.base",
    "model.inputs",
    "model.embedding_dim",
    "model.embedding_dims.user",
    "model.embedding_dims.domain",
    "model.embedding_dims",
    "model.hidden",
    "model.dropout",
    "model.cross_layers",
    "model.embedding_std",
    "model.batch_norm",
    "apg.variant",
    "apg.rank",
    "apg.overparam",
    "apg.layers",
    "apg.generator_hidden",
    "apg.generator_dropout",
    "apg.generate_bias",
    "apg.identity_init",
    "apg.detach_condition",
    "apg.init",
    "apg.condition.mode",
    "apg.condition.fields",
    "apg.condition.aggregation",
    "apg.condition.input_agg",
    "apg.condition.output_agg",
    "apg.condition.separate_embedding",
    "apg.condition.embedding_dim",
    "train.batch_size",
    "train.epochs",
    "train.lr",
    "train.betas",
    "train.eps",
    "train.weight_decay",
    "train.embedding_l2",
    "train.embedding_optimizer",
    "train.clip_norm",
    "train.lr_plateau_factor",
    "train.eval_every",
    "train.monitor",
    "train.patience",
    "train.max_steps",
    "train.shuffle",
    "train.threads",
    "metrics.gauc_field",
    "metrics.group_fields",
    "metrics.baseline",
];

/// Values that pass validation often, so that mutations reach the model and trainer.
fn experiment_plausible(u: &mut Unstructured, key: &str) -> arbitrary::Result<Option<String>> {
    let field = || format!("\"{}\"", FIELDS[..11].join("\", \""));
    let options: Vec<String> = match key.rsplit('.').next().unwrap_or(key) {
        "dataset" => {
            ["\"tiny.toml\"", "\"synthetic-multidomain\"", "\"example-csv\"", "\"frappe\""].map(String::from).into()
        }
        "device" => ["\"cpu\"", "\"cuda\"", "\"cuda:0\""].map(String::from).into(),
        "base" => ["\"dnn\"", "\"wdl\"", "\"deepfm\"", "\"dcn\"", "\"dcnv2\""].map(String::from).into(),
        "variant" => ["\"static\"", "\"v1\"", "\"v2\"", "\"v3\"", "\"v4\"", "\"v5\""].map(String::from).into(),
        "mode" => ["\"group\"", "\"mix\"", "\"self\""].map(String::from).into(),
        "aggregation" => ["\"input\"", "\"output\""].map(String::from).into(),
        "input_agg" => ["\"concat\"", "\"mean\"", "\"attention\""].map(String::from).into(),
        "output_agg" => ["\"mean\"", "\"attention\""].map(String::from).into(),
        "init" => ["\"he\"", "\"xavier\""].map(String::from).into(),
        "monitor" => ["\"auc\"", "\"logloss\""].map(String::from).into(),
        "embedding_optimizer" => ["\"adam\"", "\"lazy_adam\""].map(String::from).into(),
        "inputs" | "fields" | "group_fields" => {
            let n = u.int_in_range(0..=4)?;
            let names: Vec<String> =
                (0..n).map(|_| Ok(format!("\"{}\"", u.choose(&FIELDS[..11])?))).collect::<arbitrary::Result<_>>()?;
            vec![format!("[{}]", names.join(", ")), format!("[{}]", field())]
        }
        "gauc_field" => FIELDS[..11].iter().map(|f| format!("\"{f}\"")).collect(),
        "hidden" | "rank" | "overparam" | "generator_hidden" => {
            let n = u.int_in_range(0..=4)?;
            let widths: Vec<String> =
                (0..n).map(|_| Ok(u.int_in_range(1..=48u32)?.to_string())).collect::<arbitrary::Result<_>>()?;
            vec![format!("[{}]", widths.join(", "))]
        }
        "layers" => ["[true]", "[false]", "[true, false]", "[false, true, true]"].map(String::from).into(),
        "embedding_dims" => ["{ user = 4, domain = 8 }", "{ price = 1 }", "{}"].map(String::from).into(),
        "embedding_dim" | "user" | "domain" | "batch_size" | "epochs" | "cross_layers" | "eval_every" | "patience"
        | "max_steps" | "threads" | "seed" => vec![u.int_in_range(0..=70u32)?.to_string()],
        "dropout" | "generator_dropout" | "embedding_std" | "weight_decay" | "embedding_l2" | "clip_norm"
        | "lr_plateau_factor" | "lr" | "eps" => {
            ["0.0", "0.01", "0.1", "0.5", "1.0", "1e-8", "10.0"].map(String::from).into()
        }
        "betas" => ["[0.9, 0.999]", "[0.0, 0.0]", "[0.5, 0.9]"].map(String::from).into(),
        "batch_norm" | "generate_bias" | "identity_init" | "detach_condition" | "separate_embedding" | "shuffle" => {
            ["true", "false"].map(String::from).into()
        }
        _ => return Ok(None),
    };
    Ok(Some(u.choose(&options)?.clone()))
}

fn gen_experiment(_: &Env, u: &mut Unstructured) -> arbitrary::Result<Vec<u8>> {
    let mut text = u.choose(DEMO)?.to_string();
    if u.ratio(9, 10)? {
        text = text.replace("dataset = \"synthetic-multidomain\"", "dataset = \"tiny.toml\"");
    }
    let others: Vec<&[u8]> = DEMO.iter().map(|d| d.as_bytes()).collect();
    mutate::toml_document(u, &text, EXPERIMENT_KEYS, FIELDS, experiment_plausible, &others)
}

/// Parse, validate and resolve the experiment as `run` and the TUI do (from its file),
/// then build and train it for a few steps when it is small and its data is at hand.
fn run_experiment(env: &Env, input: &[u8]) -> Verdict {
    let scratch = Scratch(env.scratch());
    let file = scratch.0.join("experiment.toml");
    std::fs::write(&file, input).expect("write the case");
    std::fs::write(scratch.0.join("tiny.toml"), &env.tiny).expect("write the case");
    let mut loaded = match LoadedExperiment::from_file(&file) {
        Ok(loaded) => loaded,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    if dense_parameters(&loaded) > TRAIN_BUDGET || !small_enough(&loaded.dataset) {
        return Verdict::Accepted;
    }
    let load = LoadOptions { cache_dir: Some(env.root.join("cache")), no_cache: false };
    train_briefly(&mut loaded, load, Some(scratch.0.join("model.safetensors")))
}

// ---- descriptor: the built-in dataset descriptors ----

const DESCRIPTOR_KEYS: &[&str] = &[
    "name",
    "description",
    "licence",
    "source.format",
    "source.dir",
    "source.path",
    "source.separator",
    "source.quote",
    "source.header",
    "source.encoding",
    "synthetic.rows",
    "synthetic.seed",
    "synthetic.domains",
    "synthetic.users",
    "synthetic.items",
    "synthetic.categories",
    "synthetic.domain_skew",
    "synthetic.item_skew",
    "synthetic.user_skew",
    "synthetic.domain_strength",
    "synthetic.domain_rules",
    "label.column",
    "label.threshold",
    "fields[].name",
    "fields[].kind",
    "fields[].column",
    "fields[].min_count",
    "fields[].separator",
    "fields[].transform",
    "fields[].bins",
    "fields[]",
    "derived[].name",
    "derived[].kind",
    "derived[].column",
    "derived[].threshold",
    "derived[].quantiles",
    "derived[].edges",
    "derived[].labels",
    "derived[].seed",
    "derived[]",
    "split.kind",
    "split.seed",
    "split.ratios",
    "split.column",
    "split.train",
    "split.valid",
    "split.test",
];

fn descriptor_plausible(u: &mut Unstructured, key: &str) -> arbitrary::Result<Option<String>> {
    let options: Vec<String> = match key.rsplit('.').next().unwrap_or(key) {
        "format" => ["\"csv\"", "\"libfm\"", "\"synthetic\"", "\"movielens-100k\""].map(String::from).into(),
        "dir" => ["[\"example\"]", "[\"frappe\"]", "[\"${HOME}\", \"example\"]", "[]"].map(String::from).into(),
        "path" | "train" | "valid" | "test" => {
            ["\"clicks.csv\"", "\"frappe.train.libfm\"", "\"frappe.test.libfm\"", "\"missing.csv\""]
                .map(String::from)
                .into()
        }
        "separator" | "quote" => ["\",\"", "\"\\t\"", "\"|\"", "\";\"", "\"\\\"\""].map(String::from).into(),
        "encoding" => ["\"utf-8\"", "\"latin-1\""].map(String::from).into(),
        "kind" => [
            "\"categorical\"",
            "\"numeric\"",
            "\"multi_categorical\"",
            "\"activity\"",
            "\"frequency\"",
            "\"bucket\"",
            "\"shuffled\"",
            "\"random\"",
            "\"time\"",
            "\"files\"",
        ]
        .map(String::from)
        .into(),
        "transform" => ["\"quantile\"", "\"scale\""].map(String::from).into(),
        "column" | "name" => FIELDS.iter().map(|f| format!("\"{f}\"")).collect(),
        "rows" | "users" | "items" | "categories" | "domains" | "bins" | "quantiles" | "min_count" | "threshold"
        | "seed" => vec![u.int_in_range(0..=3000u32)?.to_string()],
        "ratios" => {
            ["[0.8, 0.1, 0.1]", "[1.0, 0.0, 0.0]", "[0.5, 0.5, 0.0]", "[0.98, 0.01, 0.01]"].map(String::from).into()
        }
        "edges" => ["[25, 40]", "[0.5]", "[1, 2, 3, 4, 5, 6, 7, 8]", "[-1e300, 1e300]"].map(String::from).into(),
        "labels" => ["[\"a\", \"b\", \"c\"]", "[\"a\", \"a\"]", "[\"\"]"].map(String::from).into(),
        "header" => ["true", "false"].map(String::from).into(),
        _ => return Ok(None),
    };
    Ok(Some(u.choose(&options)?.clone()))
}

fn gen_descriptor(env: &Env, u: &mut Unstructured) -> arbitrary::Result<Vec<u8>> {
    let bases = [env.tiny.as_str(), built_in("example-csv"), built_in("frappe"), built_in("movielens-100k")];
    let text = *u.choose(&bases)?;
    let others: Vec<&[u8]> = bases.iter().map(|b| b.as_bytes()).collect();
    mutate::toml_document(u, text, DESCRIPTOR_KEYS, FIELDS, descriptor_plausible, &others)
}

/// Loads a dataset and computes its statistics, as `data inspect` does; then trains a
/// small model on it, as a run does.
fn load_and_inspect(descriptor: &LoadedDescriptor, experiment_dir: &Path, options: LoadOptions) -> Verdict {
    let (dataset, _) = match data::load(descriptor, &options) {
        Ok(loaded) => loaded,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    let stats = data::stats::dataset_stats(&dataset);
    for field in &dataset.fields {
        let _ = data::stats::field_stats(&dataset, field, usize::MAX);
    }
    let _ = serde_json::to_string(&stats);
    // A static model over every field of the loaded data.
    let file = experiment_dir.join("small.toml");
    let reference = descriptor.file.display().to_string();
    let text = format!(
        "dataset = {}\n[model]\nhidden = [4]\n[train]\nbatch_size = 32\nmax_steps = 2\npatience = 0\n",
        toml_edit::Value::from(reference)
    );
    std::fs::write(&file, text).expect("write the case");
    match LoadedExperiment::from_file(&file) {
        Ok(mut loaded) => train_briefly(&mut loaded, options, None),
        Err(e) => Verdict::Rejected(e.to_string()),
    }
}

fn run_descriptor(env: &Env, input: &[u8]) -> Verdict {
    let scratch = Scratch(env.scratch());
    // In `datasets/`, beside the example data, like the built-in descriptors.
    let file = env.root.join("datasets").join(format!("fuzz-{}.toml", scratch.0.file_name().unwrap().display()));
    std::fs::write(&file, input).expect("write the case");
    let _remove = Scratch(file.clone());
    let descriptor = match LoadedDescriptor::from_file(&file) {
        Ok(d) => d,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    if !small_enough(&descriptor) {
        return Verdict::Accepted;
    }
    load_and_inspect(&descriptor, &scratch.0, LoadOptions { cache_dir: Some(scratch.0.join("cache")), no_cache: false })
}

// ---- csv and libfm: data files through their descriptors ----

/// Descriptors the CSV bytes are read through, chosen by the input's first byte.
fn csv_descriptor(variant: u8) -> String {
    let example = built_in("example-csv");
    match variant % 5 {
        0 => example.to_string(),
        1 => example.replace("kind = \"time\"\ncolumn = \"ts\"", "kind = \"random\""),
        2 => example
            .replace("encoding = \"utf-8\"", "encoding = \"latin-1\"")
            .replace("[label]\ncolumn = \"clicked\"", "[label]\ncolumn = \"clicked\"\nthreshold = 0.5"),
        3 => example.replace("transform = \"scale\"", "transform = \"quantile\"\nbins = 3"),
        _ => example.replace("quote = \"\\\"\"", "quote = \"'\""),
    }
}

fn gen_csv(_: &Env, u: &mut Unstructured) -> arbitrary::Result<Vec<u8>> {
    let mut data = CLICKS_CSV.to_vec();
    let mut lines: Vec<Vec<u8>> = data.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    for _ in 0..u.int_in_range(0..=3)? {
        let i = u.choose_index(lines.len())?;
        match u.int_in_range(0..=4)? {
            // A cell replaced by a boundary value.
            0 | 1 => {
                let mut cells: Vec<Vec<u8>> = lines[i].split(|&b| b == b',').map(<[u8]>::to_vec).collect();
                let c = u.choose_index(cells.len())?;
                let values: &[&str] = &[
                    "",
                    "NaN",
                    "nan",
                    "inf",
                    "-inf",
                    "1e309",
                    "-1",
                    "2",
                    "0.5",
                    "+1",
                    "18446744073709551616",
                    "-0",
                    "1e-400",
                    "\"",
                    "\"\"",
                    "a|b||c|",
                    "|",
                    "\u{feff}1",
                    "\u{fffd}",
                    " 1 ",
                    "0x10",
                ];
                cells[c] = u.choose(values)?.as_bytes().to_vec();
                lines[i] = cells.join(&b","[..]);
            }
            2 => lines.insert(i, lines[0].clone()),
            3 => {
                let copy = lines[i].clone();
                let n = u.int_in_range(1..=3000)?;
                lines.splice(i..i, std::iter::repeat_n(copy, n));
            }
            _ => {
                lines.remove(i);
                if lines.is_empty() {
                    lines.push(Vec::new());
                }
            }
        }
    }
    data = lines.join(&b"\n"[..]);
    if u.ratio(2, 3)? {
        mutate::bytes(u, &mut data, &[CLICKS_CSV])?;
    }
    let mut input = vec![u.arbitrary::<u8>()?];
    input.extend(data);
    Ok(input)
}

/// Input: one byte choosing the descriptor variant, then the bytes of `clicks.csv`.
fn run_csv(env: &Env, input: &[u8]) -> Verdict {
    let Some((&variant, bytes)) = input.split_first() else { return Verdict::Rejected("empty input".into()) };
    let scratch = Scratch(env.scratch());
    std::fs::create_dir_all(scratch.0.join("example")).expect("create folders");
    std::fs::write(scratch.0.join("example/clicks.csv"), bytes).expect("write the case");
    let file = scratch.0.join("example-csv.toml");
    std::fs::write(&file, csv_descriptor(variant)).expect("write the case");
    let descriptor = LoadedDescriptor::from_file(&file).expect("the CSV descriptor variants are valid");
    load_and_inspect(&descriptor, &scratch.0, LoadOptions { cache_dir: None, no_cache: true })
}

fn gen_libfm(_: &Env, u: &mut Unstructured) -> arbitrary::Result<Vec<u8>> {
    let which = u.int_in_range(0..=2u8)?;
    let mut data = libfm_file([120, 30, 30][which as usize], which as usize);
    let others = [libfm_file(5, 9)];
    let values: &[&[u8]] = &[
        b" 1:1",
        b" 1:0",
        b" 1:2",
        b" :1",
        b" 1:",
        b" 99999999999999999999:1",
        b" -1:1",
        b" 1:1:1",
        b" 1:nan",
        b"\n0\n",
        b"\n+1",
        b"\n2 1:1",
        b"\n",
        b"\t",
        b" x:1",
        b" 1:1e0",
    ];
    for _ in 0..u.int_in_range(0..=3)? {
        let at = u.int_in_range(0..=data.len())?;
        data.splice(at..at, u.choose(values)?.iter().copied());
    }
    if u.ratio(2, 3)? {
        mutate::bytes(u, &mut data, &[&others[0]])?;
    }
    let mut input = vec![which];
    input.extend(data);
    Ok(input)
}

/// Input: one byte choosing which of the three split files the bytes replace.
fn run_libfm(env: &Env, input: &[u8]) -> Verdict {
    let Some((&which, bytes)) = input.split_first() else { return Verdict::Rejected("empty input".into()) };
    let scratch = Scratch(env.scratch());
    let dir = scratch.0.join("frappe");
    std::fs::create_dir_all(&dir).expect("create folders");
    for (i, name) in LIBFM_FILES.iter().enumerate() {
        let valid = libfm_file([120, 30, 30][i], i);
        let content = if i == which as usize % 3 { bytes } else { &valid };
        std::fs::write(dir.join(name), content).expect("write the case");
    }
    let file = scratch.0.join("frappe.toml");
    std::fs::write(&file, built_in("frappe")).expect("write the case");
    let descriptor = LoadedDescriptor::from_file(&file).expect("frappe's descriptor is valid");
    load_and_inspect(&descriptor, &scratch.0, LoadOptions { cache_dir: None, no_cache: true })
}

// ---- cache: the encoded-dataset cache file ----

const CACHE_HEADER_LEN: usize = data::cache::HEADER_LEN;

/// Where the layout (JSON at the end of the file) starts.
fn layout_offset(bytes: &[u8]) -> usize {
    (u64::from_le_bytes(bytes[44..52].try_into().expect("8 bytes")) as usize).min(bytes.len())
}

/// Rebuilds a cache file from `arrays` (everything between the header and the layout)
/// and `layout` with a correct offset, length and CRC, so that the reader gets past its
/// checksum to the contents.
fn seal_cache(header: &[u8], arrays: &[u8], layout: &[u8]) -> Vec<u8> {
    let mut out = header[..CACHE_HEADER_LEN].to_vec();
    out.extend_from_slice(arrays);
    let offset = out.len() as u64;
    out.extend_from_slice(layout);
    out[44..52].copy_from_slice(&offset.to_le_bytes());
    out[52..60].copy_from_slice(&(layout.len() as u64).to_le_bytes());
    let crc = crc32fast::hash(&out[CACHE_HEADER_LEN..]);
    out[60..64].copy_from_slice(&crc.to_le_bytes());
    out
}

fn gen_cache(env: &Env, u: &mut Unstructured) -> arbitrary::Result<Vec<u8>> {
    let valid = &env.cache_bytes;
    let offset = layout_offset(valid);
    let (header, arrays, layout) = (&valid[..CACHE_HEADER_LEN], &valid[CACHE_HEADER_LEN..offset], &valid[offset..]);
    let mut bytes = match u.int_in_range(0..=3)? {
        // Raw bytes anywhere (the checksum or the lengths should catch them).
        0 => {
            let mut bytes = valid.clone();
            mutate::bytes(u, &mut bytes, &[valid])?;
            bytes
        }
        // A header field: magic, version, fingerprint, layout offset and length, CRC.
        1 => {
            let mut bytes = valid.clone();
            let (start, len) = *u.choose(&[(0, 8), (8, 4), (12, 32), (44, 8), (52, 8), (60, 4)])?;
            let value: u64 = match u.int_in_range(0..=4)? {
                0 => 0,
                1 => u64::MAX,
                2 => valid.len() as u64 + 1,
                3 => offset as u64 - 1,
                _ => u.arbitrary()?,
            };
            bytes[start..start + len]
                .copy_from_slice(&value.to_le_bytes()[..len.min(8)].repeat(len.div_ceil(8))[..len]);
            bytes
        }
        // The layout (field metadata, where each array lies), resealed.
        2 => {
            let edited = mutate::json_document(u, layout, &[])?;
            seal_cache(header, arrays, &edited)
        }
        // The arrays (ids, labels, split indices), resealed.
        _ => {
            let mut arrays = arrays.to_vec();
            for _ in 0..u.int_in_range(1..=4)? {
                let at = u.int_in_range(0..=arrays.len().saturating_sub(4))?;
                let word: u32 = *u.choose(&[0, 1, 2, 0x7fff_ffff, u32::MAX, 600, 601, 0x7fc0_0000])?;
                arrays[at..at + 4].copy_from_slice(&word.to_le_bytes());
            }
            if u.ratio(1, 4)? {
                let cut = u.int_in_range(0..=arrays.len())?;
                arrays.truncate(cut);
            }
            seal_cache(header, &arrays, layout)
        }
    };
    if u.ratio(1, 10)? {
        bytes.truncate(u.int_in_range(0..=CACHE_HEADER_LEN)?);
    }
    Ok(bytes)
}

/// Reads the cache as a load does: a bad one must be rejected and rebuilt; one that is
/// accepted must be trainable.
fn run_cache(env: &Env, input: &[u8]) -> Verdict {
    let scratch = Scratch(env.scratch());
    let cache_dir = scratch.0.join("cache");
    std::fs::create_dir_all(&cache_dir).expect("create folders");
    let path = data::cache::cache_path(&cache_dir, "synthetic-multidomain");
    std::fs::write(&path, input).expect("write the case");
    let direct = data::cache::read(&path, &env.fingerprint);
    std::fs::write(scratch.0.join("tiny.toml"), &env.tiny).expect("write the case");
    std::fs::write(scratch.0.join("small.toml"), SMALL_EXPERIMENT).expect("write the case");
    let mut loaded = LoadedExperiment::from_file(&scratch.0.join("small.toml")).expect("the small experiment");
    let options = LoadOptions { cache_dir: Some(cache_dir), no_cache: false };
    let report = match data::load(&loaded.dataset, &options) {
        Ok((_, report)) => report,
        Err(e) => panic!("the tiny dataset must load whatever its cache holds: {e}"),
    };
    assert_eq!(report.from_cache, direct.is_ok(), "a load uses the cache exactly when the cache reads");
    // Train on what the load gives, the cache first read again by the trainer.
    std::fs::write(&path, input).expect("write the case");
    let trained = train_briefly(&mut loaded, options, None);
    match (direct, trained) {
        (Ok(_), trained) => trained,
        (Err(miss), _) => Verdict::Rejected(format!("{miss:?}")),
    }
}

// ---- filter: `runs list --filter` and `--sort` ----

const FILTER_WORDS: &[&str] = &[
    "auc",
    "test.auc",
    "valid.auc",
    "logloss",
    "gauc",
    "condition.mode",
    "condition.fields",
    "variant",
    "tag",
    "tags",
    "seed",
    "status",
    "experiment",
    "id",
    "device",
    "steps",
    "params",
    "note",
    "host",
    "started",
    "test.user_activity.cold.auc",
    "test.user_activity.active.rows",
    "test..auc",
    "test.a.b.c.d.auc",
    "and",
    "or",
    "AND",
    "Or",
    "not",
    "(",
    ")",
    "((",
    "))",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=<",
    "!",
    "<>",
    "0",
    "0.8",
    "-1",
    "1e999",
    "-1e999",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e-400",
    "18446744073709551616",
    "'group'",
    "\"v5\"",
    "'",
    "\"",
    "'unterminated",
    "group",
    "cuda:0",
    "keep",
    "é",
    "🦀",
    "\u{202e}",
    "\0",
    " ",
    "  ",
    "\t",
    "\n",
];

/// A random expression of the filter grammar, `depth` levels of parentheses at most.
fn filter_expr(u: &mut Unstructured, depth: usize, out: &mut String) -> arbitrary::Result<()> {
    let terms = u.int_in_range(1..=3)?;
    for t in 0..terms {
        if t > 0 {
            out.push_str(u.choose(&[" and ", " or ", " AND ", " Or "])?);
        }
        if depth > 0 && u.ratio(1, 3)? {
            out.push('(');
            filter_expr(u, depth - 1, out)?;
            out.push(')');
        } else {
            // Mostly well-typed comparisons, so that matching is reached; sometimes any.
            const NUMBER_KEYS: &[&str] = &[
                "auc",
                "test.auc",
                "valid.auc",
                "logloss",
                "gauc",
                "seed",
                "steps",
                "params",
                "test.user_activity.cold.auc",
                "test.user_activity.active.rows",
            ];
            const NUMBERS: &[&str] =
                &["0", "0.5", "0.8", "-1", "1e999", "-1e999", "nan", "inf", "1e-400", "18446744073709551616", "3"];
            const TEXT_KEYS: &[&str] = &[
                "condition.mode",
                "condition.fields",
                "variant",
                "tag",
                "tags",
                "status",
                "experiment",
                "id",
                "device",
                "note",
                "host",
                "started",
            ];
            const TEXTS: &[&str] =
                &["group", "'group'", "\"v5\"", "keep", "cuda:0", "finished", "''", "é", "small", "domain"];
            let (keys, values) = match u.int_in_range(0..=4)? {
                0 | 1 => (NUMBER_KEYS, NUMBERS),
                2 | 3 => (TEXT_KEYS, TEXTS),
                _ => (&FILTER_WORDS[..25], &FILTER_WORDS[43..65]),
            };
            out.push_str(u.choose(keys)?);
            out.push_str(u.choose(&[" = ", " != ", " < ", " <= ", " > ", " >= ", " == ", "="])?);
            out.push_str(u.choose(values)?);
        }
    }
    Ok(())
}

fn gen_filter(_: &Env, u: &mut Unstructured) -> arbitrary::Result<Vec<u8>> {
    let text = match u.int_in_range(0..=5)? {
        // Words of the language in random order.
        0 | 1 => {
            let n = u.int_in_range(0..=30)?;
            let words: Vec<&str> = (0..n).map(|_| u.choose(FILTER_WORDS).copied()).collect::<arbitrary::Result<_>>()?;
            words.join(if u.arbitrary()? { " " } else { "" })
        }
        // Grammar-generated expressions.
        2 | 3 => {
            let mut out = String::new();
            let depth = u.int_in_range(0..=8)?;
            filter_expr(u, depth, &mut out)?;
            out
        }
        // Deep nesting and long chains.
        4 => {
            let depth = u.int_in_range(1..=10_000)?;
            let comparison = "auc > 0.5";
            match u.int_in_range(0..=3)? {
                0 => format!("{}{comparison}{}", "(".repeat(depth), ")".repeat(depth)),
                1 => vec![comparison; depth.min(5_000)].join(" and "),
                2 => vec![comparison; depth.min(5_000)].join(" or "),
                _ => format!("{}{comparison}", "(".repeat(depth)),
            }
        }
        // Random characters.
        _ => {
            let n = u.int_in_range(0..=200)?;
            (0..n).map(|_| u.arbitrary::<char>()).collect::<arbitrary::Result<String>>()?
        }
    };
    let mut bytes = vec![u.int_in_range(0..=3u8)?];
    bytes.extend(text.into_bytes());
    if u.ratio(1, 5)? {
        mutate::bytes(u, &mut bytes, &[])?;
    }
    Ok(bytes)
}

/// Input: one byte (0 a filter, 1 a sort key, 2 both, 3 a filter then a sort by `auc`),
/// then the text.
fn run_filter(env: &Env, input: &[u8]) -> Verdict {
    let Some((&mode, bytes)) = input.split_first() else { return Verdict::Rejected("empty input".into()) };
    let text = String::from_utf8_lossy(bytes);
    let mut runs: Vec<&apg_bench::runs::Run> = env.history.runs.iter().collect();
    if mode % 4 != 1 {
        let filter = match Filter::parse(&text) {
            Ok(filter) => filter,
            Err(e) => return Verdict::Rejected(e.to_string()),
        };
        runs.retain(|run| filter.matches(&run.row));
    }
    if mode % 4 != 0 {
        let key = if mode % 4 == 3 { "-auc".into() } else { text };
        let key = match SortKey::parse(&key) {
            Ok(key) => key,
            Err(e) => return Verdict::Rejected(e.to_string()),
        };
        runs.sort_by(|a, b| key.compare(&a.row, &b.row));
    }
    Verdict::Accepted
}

// ---- runs: run folders read back by the history ----

fn gen_runs(env: &Env, u: &mut Unstructured) -> arbitrary::Result<Vec<u8>> {
    let which = u.choose_index(env.run_files.len())?;
    let (name, bytes) = &env.run_files[which];
    let text = String::from_utf8_lossy(bytes);
    let others: Vec<&[u8]> = env.run_files.iter().map(|(_, b)| b.as_slice()).collect();
    let mutated = match *name {
        "run.toml" => {
            let keys = [
                "id",
                "experiment",
                "experiment_path",
                "status",
                "started",
                "ended",
                "host",
                "pid",
                "device",
                "seed",
                "version",
                "config_hash",
                "dataset_fingerprint",
                "parent",
                "error",
                "tags",
                "note",
            ];
            mutate::toml_document(
                u,
                &text,
                &keys,
                &["finished", "running", "failed", "2024-02-30T25:61:61Z"],
                |u, key| {
                    Ok(match key {
                        "status" => Some(
                            u.choose(&["\"finished\"", "\"running\"", "\"failed\"", "\"interrupted\"", "\"stopped\""])?
                                .to_string(),
                        ),
                        "started" | "ended" => Some(
                            u.choose(&[
                                "\"9999-12-31T23:59:59Z\"",
                                "\"0000-01-01T00:00:00Z\"",
                                "\"1970-01-01T00:00:00Z\"",
                                "\"2024-02-30T25:61:61Z\"",
                                "\"-9999-01-01T00:00:00Z\"",
                                "\"2024-01-01T00:00:00+99:99\"",
                            ])?
                            .to_string(),
                        ),
                        _ => None,
                    })
                },
                &others,
            )?
        }
        "config.toml" => mutate::toml_document(u, &text, EXPERIMENT_KEYS, FIELDS, experiment_plausible, &others)?,
        "metrics.jsonl" => {
            let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            for _ in 0..u.int_in_range(1..=3)? {
                let i = u.choose_index(lines.len())?;
                match u.int_in_range(0..=3)? {
                    0 | 1 => lines[i] = mutate::json_document(u, &lines[i], &others)?,
                    2 => {
                        let copy = lines[i].clone();
                        lines.insert(u.choose_index(lines.len())?, copy);
                    }
                    _ => {
                        lines.remove(i);
                        if lines.is_empty() {
                            lines.push(Vec::new());
                        }
                    }
                }
            }
            lines.join(&b"\n"[..])
        }
        "summary.json" => mutate::json_document(u, bytes, &others)?,
        _ => {
            let mut bytes = bytes.clone();
            mutate::bytes(u, &mut bytes, &others)?;
            bytes
        }
    };
    let mut input = vec![which as u8];
    input.extend(mutated);
    Ok(input)
}

/// Input: one byte choosing the run file, then its bytes. The workspace holds the real
/// run and a copy with that file replaced; the history is read, listed with a filter
/// and sorts, grouped, compared and diffed, as `runs list/show/compare/diff` do.
fn run_runs(env: &Env, input: &[u8]) -> Verdict {
    let Some((&which, bytes)) = input.split_first() else { return Verdict::Rejected("empty input".into()) };
    let scratch = Scratch(env.scratch());
    let runs = scratch.0.join("runs");
    let id = &env.run_id;
    let copy = format!("{id}-copy");
    for (folder, replace) in [(id.as_str(), false), (copy.as_str(), true)] {
        let dir = runs.join(folder);
        std::fs::create_dir_all(&dir).expect("create folders");
        for (i, (name, content)) in env.run_files.iter().enumerate() {
            let content = if replace && i == which as usize % env.run_files.len() { bytes } else { content };
            std::fs::write(dir.join(name), content).expect("write the case");
        }
    }
    let history = match History::load(&scratch.0) {
        Ok(history) => history,
        Err(e) => return Verdict::Rejected(e.to_string()),
    };
    let problems: Vec<String> = history.all_problems().map(|p| p.to_string()).collect();
    let filter = Filter::parse("auc > 0.5 or status = finished and tag = keep").expect("a valid filter");
    let mut rows: Vec<_> = history.runs.iter().map(|r| &r.row).filter(|row| filter.matches(row)).collect();
    for key in ["auc", "-logloss", "wall", "steps", "params", "started", "-seed"] {
        if let Ok(key) = SortKey::parse(key) {
            rows.sort_by(|a, b| key.compare(a, b));
        }
    }
    let _ = apg_bench::runs::groups::groups(&history);
    for queries in [vec![id.clone(), copy.clone()], vec![copy.clone()]] {
        for groups in [false, true] {
            let options = CompareOptions { groups, ..Default::default() };
            if let Ok(comparison) = compare(&history, &queries, &options) {
                let _ = apg_bench::runs::export::markdown(&comparison);
                let _ = apg_bench::runs::export::csv(&comparison);
                let _ = serde_json::to_string(&comparison);
            }
        }
    }
    if let (Ok(a), Ok(b)) = (
        apg_bench::runs::diff::read_flat_config(&runs.join(id)),
        apg_bench::runs::diff::read_flat_config(&runs.join(&copy)),
    ) {
        let _ = apg_bench::runs::diff::config_diff(&a, &b);
        let _ = apg_bench::runs::diff::differing_keys(&[&a, &b]);
    }
    let _ = history.resolve(&copy);
    match problems.first() {
        None => Verdict::Accepted,
        Some(problem) => Verdict::Rejected(problem.clone()),
    }
}
