//! `apg-bench bench --quick --only tui,data --json`: the TUI figures are there and
//! positive, the data section measured the generated CSV in child processes and either
//! measured ml-100k or said why not. Figures are never asserted against targets here.

use assert_cmd::Command;
use serde_json::Value;

#[test]
fn quick_bench_of_tui_and_data_prints_figures_as_json() {
    let output = Command::cargo_bin("apg-bench")
        .unwrap()
        .args(["bench", "--quick", "--only", "tui,data", "--json", "--threads", "1"])
        // No shared datasets: ml-100k must be skipped, with the reason.
        .env_remove("APG_BENCH_DATA")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&output.stdout));
    });
    assert_eq!(report["quick"], true);
    let figures = report["figures"].as_array().unwrap();
    let value = |key: &str| -> f64 {
        let figure = figures.iter().find(|f| f["key"] == key).unwrap_or_else(|| panic!("no figure {key}: {report:#}"));
        figure["value"].as_f64().unwrap()
    };
    for key in ["tui.draw.data", "tui.draw.conditions", "tui.draw.train", "tui.draw.runs", "tui.draw.help"] {
        let ms = value(key);
        assert!(ms > 0.0 && ms.is_finite(), "{key} = {ms}");
    }
    for key in ["data.csv-2m.rows-per-s", "data.csv-2m.peak-rss", "data.csv-2m.encoded", "data.csv-2m.cached"] {
        let v = value(key);
        assert!(v > 0.0 && v.is_finite(), "{key} = {v}");
    }
    let skipped = report["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["section"] == "data" && s["what"] == "ml-100k"),
        "ml-100k is skipped without APG_BENCH_DATA: {report:#}"
    );
    assert!(figures.iter().all(|f| f["section"] == "tui" || f["section"] == "data"), "only tui and data ran");
}

/// The model section names each figure by shape, model, variant, condition mode,
/// train/infer and batch, and the runs section lists a fabricated history.
#[test]
fn quick_bench_of_one_model_and_the_history_names_its_figures() {
    let output = Command::cargo_bin("apg-bench")
        .unwrap()
        .args(["bench", "--quick", "--only", "model,runs", "--model", "probe/apg-v5-mix", "--batch", "128"])
        .args(["--json", "--threads", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let figures = report["figures"].as_array().unwrap();
    for what in ["train", "infer"] {
        let key = format!("model.{what}.probe.apg-v5-mix.b128");
        let figure =
            figures.iter().find(|f| f["key"] == key.as_str()).unwrap_or_else(|| panic!("no {key}: {report:#}"));
        assert_eq!(figure["shape"], "probe");
        assert_eq!(figure["model"], "apg-v5-mix");
        assert_eq!(figure["variant"], "v5");
        assert_eq!(figure["condition"], "mix");
        assert_eq!(figure["what"], what);
        assert_eq!(figure["batch"], 128);
        assert_eq!(figure["unit"], "samples/s");
        assert!(figure["value"].as_f64().unwrap() > 0.0);
        assert_eq!(figure["samples"].as_array().unwrap().len(), 3, "quick mode: the median of 3");
    }
    let listing = figures.iter().find(|f| f["key"] == "runs.list.200").unwrap_or_else(|| panic!("{report:#}"));
    assert!(listing["value"].as_f64().unwrap() > 0.0);
    assert_eq!(figures.len(), 3, "two model figures and the listing: {report:#}");
}

/// A model the bench does not have, or a batch of zero, is refused with a message, not
/// measured as nothing (or a panic).
#[test]
fn unknown_models_and_empty_batches_are_refused() {
    let output = Command::cargo_bin("apg-bench")
        .unwrap()
        .args(["bench", "--only", "model", "--model", "mlpp"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no model \"mlpp\" in the bench: choose from probe/mlp,"), "{stderr}");

    let output =
        Command::cargo_bin("apg-bench").unwrap().args(["bench", "--only", "model", "--batch", "0"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid value '0' for '--batch"), "{stderr}");
}

#[test]
fn thread_counts_beyond_the_limit_are_refused_before_any_thread_starts() {
    for (threads, message) in [
        ("100000", "100000 threads is more than the 1024 allowed"),
        ("0", "give at least 1 thread (leave --threads out for one per core)"),
    ] {
        let output = Command::cargo_bin("apg-bench")
            .unwrap()
            .args(["bench", "--only", "tui", "--threads", threads])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{threads}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let expected = format!("error: invalid value '{threads}' for '--threads <THREADS>': {message}");
        assert!(stderr.starts_with(&expected), "{stderr}");
    }
}
