//! The fuzz targets (examples/fuzz/, docs/fuzzing.md) in a bounded run: a fixed range of
//! seeds per target, in process, where any panic fails the test; and every input saved
//! from an earlier crash (`tests/fixtures/fuzz/TARGET/*`), replayed so each stays fixed.
//! The long run (`scripts/fuzz.sh`) runs the same targets out of process.

#[path = "../examples/fuzz/mutate.rs"]
mod mutate;
#[path = "../examples/fuzz/targets.rs"]
mod targets;

use std::sync::OnceLock;

use targets::{Env, Outcome, TARGETS};

/// One environment for the whole binary: creating it moves the current folder into it.
fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        targets::install_panic_hook(false);
        Env::create()
    })
}

/// Runs seeds `0..cases` of `name`; fails with each panicking seed and its message.
/// Also checks that the mutations reach both ends: some inputs are accepted, some rejected.
fn fuzz(name: &str, cases: u64) {
    let env = env();
    let target = targets::target(name).expect("a target");
    let (mut accepted, mut rejected, mut panics) = (0, 0, Vec::new());
    for seed in 0..cases {
        match target.run(env, &target.input(env, seed)) {
            Outcome::Accepted => accepted += 1,
            Outcome::Rejected => rejected += 1,
            Outcome::Panic(message) => panics.push(format!("seed {seed}: {message}")),
        }
    }
    assert!(
        panics.is_empty(),
        "{name}: {} of {cases} cases panicked (replay one with `cargo run --example fuzz -- isolate {name} SEED`):\n{}",
        panics.len(),
        panics.join("\n")
    );
    assert!(accepted > 0 && rejected > 0, "{name}: {accepted} accepted, {rejected} rejected of {cases}");
}

#[test]
fn experiment_files() {
    fuzz("experiment", 150);
}

#[test]
fn dataset_descriptors() {
    fuzz("descriptor", 150);
}

#[test]
fn csv_bytes() {
    fuzz("csv", 150);
}

#[test]
fn libfm_bytes() {
    fuzz("libfm", 150);
}

#[test]
fn cache_bytes() {
    fuzz("cache", 100);
}

#[test]
fn run_filters() {
    fuzz("filter", 300);
}

#[test]
fn run_folders() {
    fuzz("runs", 150);
}

/// Every saved crash of every target replays without a panic.
#[test]
fn saved_crashes_stay_fixed() {
    let env = env();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut replayed = 0;
    for target in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target.name)) else { continue };
        for entry in entries {
            let path = entry.expect("a fixture").path();
            let input = std::fs::read(&path).expect("read a fixture");
            let what = target.explain(env, &input);
            assert!(!what.starts_with("panicked"), "{} {what}", path.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no saved crash under {}", root.display());
}

/// Found by the fuzz harness: an input listed twice got two embedding tables of one
/// name, and saving the checkpoint panicked. Now a config error naming the key.
#[test]
fn an_input_listed_twice_is_refused() {
    let env = env();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/experiment/duplicate-input.toml");
    let what = targets::target("experiment").unwrap().explain(env, &std::fs::read(fixture).unwrap());
    assert!(what.starts_with("rejected: "), "{what}");
    assert!(what.ends_with(":10:19: model.inputs[1]: \"hour\" is listed twice"), "{what}");
}
