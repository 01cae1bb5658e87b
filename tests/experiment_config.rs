//! Invalid experiments: every bad experiment file gives one exact, located message, and
//! `run` stops before it trains or writes a run folder.
//!
//! Each case runs the real binary, `apg-bench run <fixture>`, from the crate root with a
//! relative fixture path, and checks that it exits non-zero, prints nothing on stdout,
//! that its stderr is exactly `error: <message>` (trimmed) and that it never panics.
//!
//! The fixtures live in `tests/fixtures/experiments/`, one small experiment per case,
//! on the built-in datasets (which need no data files to validate against).
//!
//! To add a case: write the fixture, run
//! `cargo run -- run tests/fixtures/experiments/<case>.toml`, check that the message names
//! the right file, line, column and key, then add a test below.

use assert_cmd::Command;

const DIR: &str = "tests/fixtures/experiments";

/// Runs `apg-bench run` with `args` and returns its trimmed stderr, after checking that
/// it failed cleanly without starting a run.
fn run_error(args: &[&str]) -> String {
    let output = Command::cargo_bin("apg-bench")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    assert!(!output.status.success(), "{args:?}: expected failure, got success; stderr: {stderr}");
    assert!(output.stdout.is_empty(), "{args:?}: printed on stdout: {}", String::from_utf8_lossy(&output.stdout));
    assert!(!stderr.contains("panicked"), "{args:?}: panicked: {stderr}");
    assert!(!std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR).join("runs").exists(), "a run folder was made");
    stderr
}

/// Asserts the exact message for `fixture`; `{d}` in `expected` stands for the fixture
/// folder.
fn check(fixture: &str, expected: &str) {
    let expected = format!("error: {}", expected.replace("{d}", DIR));
    assert_eq!(run_error(&[&format!("{DIR}/{fixture}")]), expected, "fixture {fixture}");
}

#[test]
fn unknown_key() {
    check(
        "unknown-key.toml",
        "{d}/unknown-key.toml:4:1: train: unknown field `learning_rate`, expected one of `batch_size`, `epochs`, \
         `lr`, `betas`, `eps`, `weight_decay`, `embedding_l2`, `embedding_optimizer`, `clip_norm`, \
         `lr_plateau_factor`, `eval_every`, `monitor`, `patience`, `max_steps`, `shuffle`, `threads`",
    );
}

#[test]
fn rank_above_the_layer_width() {
    check(
        "rank-too-large.toml",
        "{d}/rank-too-large.toml:7:9: apg.rank[0]: K = 32 must be between 1 and min(N_in, N_out) = \
         min(112, 16) = 16 for hidden layer 0",
    );
}

#[test]
fn overparam_below_rank() {
    check(
        "overparam-below-rank.toml",
        "{d}/overparam-below-rank.toml:8:14: apg.overparam[0]: P = 4 must be at least K = 8 for hidden layer 0",
    );
}

#[test]
fn condition_field_not_in_the_dataset() {
    check(
        "unknown-condition-field.toml",
        "{d}/unknown-condition-field.toml:6:11: apg.condition.fields[0]: no field \"country\" in the dataset \
         (fields: user, item, item_category, domain, device, hour, price, user_activity, user_activity_q, \
         item_popularity, domain_placebo)",
    );
}

#[test]
fn group_condition_with_two_fields() {
    check(
        "group-two-fields.toml",
        "{d}/group-two-fields.toml:6:1: apg.condition.fields: a group condition needs exactly one field",
    );
}

#[test]
fn multi_valued_condition_field() {
    check(
        "multi-valued-condition.toml",
        "{d}/multi-valued-condition.toml:8:11: apg.condition.fields[0]: \"tags\" is multi-valued: a condition \
         needs one value per row",
    );
}

#[test]
fn unknown_device() {
    // Parsed when the file is read, so located at the value like every other bad value.
    check("bad-device.toml", "{d}/bad-device.toml:2:10: device: unknown device \"gpu\": use \"cpu\" or \"cuda[:N]\"");
}

#[test]
fn batch_size_zero() {
    check(
        "batch-size-zero.toml",
        "{d}/batch-size-zero.toml:3:1: train.batch_size: batch_size must be between 1 and 1048576",
    );
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_in_a_build_without_it() {
    check(
        "cuda-device.toml",
        "{d}/cuda-device.toml:2:1: device: \"cuda:0\" needs CUDA, but this apg-bench was built without CUDA \
         support; build it with `cargo build --release --features cuda` (needs the CUDA toolkit), or run with \
         --device cpu",
    );
    assert_eq!(
        run_error(&[&format!("{DIR}/cuda-device.toml"), "--device", "cuda"]),
        "error: --device cuda:0 needs CUDA, but this apg-bench was built without CUDA support; build it with \
         `cargo build --release --features cuda` (needs the CUDA toolkit)"
    );
}

#[test]
fn bad_device_flag() {
    let message = run_error(&[&format!("{DIR}/bad-device.toml"), "--device", "gpu"]);
    assert!(
        message.starts_with("error: invalid value 'gpu' for '--device <DEVICE>': use cpu, cuda or cuda:N"),
        "{message}"
    );
}

#[test]
fn missing_experiment_file() {
    assert_eq!(
        run_error(&[&format!("{DIR}/no-such.toml")]),
        format!("error: {DIR}/no-such.toml: cannot read: No such file or directory (os error 2)")
    );
}

#[test]
fn detaching_a_condition_with_its_own_table() {
    check(
        "detach-separate-condition.toml",
        "{d}/detach-separate-condition.toml:5:1: apg.detach_condition: the condition field \"domain\" has its own \
         embedding table, which only the generator trains: detaching it would leave it at its random start. Detach \
         only conditions that share the input embeddings (separate_embedding = false, the field among the inputs)",
    );
}

#[test]
fn generator_dropout_without_a_hidden_layer() {
    check(
        "generator-dropout-without-hidden.toml",
        "{d}/generator-dropout-without-hidden.toml:5:1: apg.generator_dropout: generator dropout acts on the \
         generator's hidden layers, and apg.generator_hidden is empty: add a hidden layer or remove generator_dropout",
    );
}

#[test]
fn generator_hidden_layer_of_width_zero() {
    check(
        "generator-hidden-zero.toml",
        "{d}/generator-hidden-zero.toml:3:21: apg.generator_hidden[0]: generator hidden layers must be between 1 \
         and 65536 wide",
    );
}

// ---- sizes the machine cannot hold: refused at load, before anything is allocated ----
// The sizes below are far beyond the 1 TiB ceiling, so the message does not depend on
// the memory of the machine running the test.

#[test]
fn hidden_layer_too_wide_for_memory() {
    check(
        "hidden-too-wide.toml",
        "{d}/hidden-too-wide.toml:3:11: model.hidden[0]: the model's dense parameters and their Adam moments would \
         need 193 TiB (1.770e13 parameters x 12 bytes), more than the 1.00 TiB apg-bench allows at most: lower \
         model.hidden[0]",
    );
}

#[test]
fn hidden_layer_of_the_largest_integer() {
    // The TOML locator cannot read integers beyond i64, so this one has no line.
    check(
        "hidden-usize-max.toml",
        "{d}/hidden-usize-max.toml: model.hidden[0]: the model's dense parameters and their Adam moments would need \
         33984 EiB (3.265e21 parameters x 12 bytes), more than the 1.00 TiB apg-bench allows at most: lower \
         model.hidden[0]",
    );
}

#[test]
fn overparam_too_large_for_memory() {
    check(
        "overparam-too-large.toml",
        "{d}/overparam-too-large.toml:8:14: apg.overparam[0]: the model's dense parameters and their Adam moments \
         would need 8064 EiB (7.748e20 parameters x 12 bytes), more than the 1.00 TiB apg-bench allows at most: \
         lower apg.overparam[0]",
    );
}

#[test]
fn rank_of_the_largest_integer() {
    // P defaults to 2 K, which must not overflow before K is checked.
    check(
        "rank-usize-max.toml",
        "{d}/rank-usize-max.toml: apg.rank[0]: K = 18446744073709551615 must be between 1 and min(N_in, N_out) = \
         min(112, 16) = 16 for hidden layer 0",
    );
}

#[test]
fn too_many_cross_layers_for_memory() {
    check(
        "cross-layers-too-many.toml",
        "{d}/cross-layers-too-many.toml:5:1: model.cross_layers: the model's dense parameters and their Adam \
         moments would need 135 PiB (1.266e16 parameters x 12 bytes), more than the 1.00 TiB apg-bench allows at \
         most: lower model.cross_layers",
    );
}

#[test]
fn too_many_threads() {
    check(
        "threads-too-many.toml",
        "{d}/threads-too-many.toml:2:1: train.threads: 100000 threads is more than the 1024 allowed (0: one per core)",
    );
}

// ---- float keys: finite and within their range, refused at load ----

#[test]
fn learning_rate_beyond_any_use() {
    check(
        "lr-too-large.toml",
        "{d}/lr-too-large.toml:3:1: train.lr: must be in (0, 10], not 1e6: Adam moves each weight by about lr \
         per step, so useful values are 1e-4 to 1e-2",
    );
}

#[test]
fn infinite_eps() {
    check(
        "eps-infinite.toml",
        "{d}/eps-infinite.toml:2:1: train.eps: must be in [1e-30, 1], not inf: Adam adds it in 32-bit floats, where \
         smaller values round toward 0; the usual value is 1e-8",
    );
}

/// 5e-324 is above 0 as a 64-bit float and exactly 0 in the 32-bit Adam that uses it.
#[test]
fn an_eps_that_is_zero_in_32_bit_floats() {
    check(
        "eps-subnormal.toml",
        "{d}/eps-subnormal.toml:2:1: train.eps: must be in [1e-30, 1], not 5e-324: Adam adds it in 32-bit floats, \
         where smaller values round toward 0; the usual value is 1e-8",
    );
}

#[test]
fn infinite_embedding_l2() {
    check(
        "embedding-l2-infinite.toml",
        "{d}/embedding-l2-infinite.toml:2:1: train.embedding_l2: must be a finite number >= 0, not inf (0: off)",
    );
}

#[test]
fn weight_decay_not_a_number() {
    check(
        "weight-decay-nan.toml",
        "{d}/weight-decay-nan.toml:2:1: train.weight_decay: must be a finite number >= 0, not NaN (0: off)",
    );
}

#[test]
fn negative_clip_norm() {
    check(
        "clip-norm-negative.toml",
        "{d}/clip-norm-negative.toml:2:1: train.clip_norm: must be a finite number >= 0, not -1 (0: off)",
    );
}

#[test]
fn a_beta_of_one() {
    check("beta-one.toml", "{d}/beta-one.toml:2:15: train.betas[1]: must be in [0, 1), not 1");
}

#[test]
fn embeddings_that_start_at_zero() {
    check(
        "embedding-std-zero.toml",
        "{d}/embedding-std-zero.toml:2:1: model.embedding_std: must be in (0, 10], not 0 (the default 0.01 was \
         measured best, docs/accuracy.md)",
    );
}
