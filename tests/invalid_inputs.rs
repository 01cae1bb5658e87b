//! Invalid inputs: every bad descriptor or data file gives one exact, located message.
//!
//! Each case runs the real binary, `apg-bench data inspect <fixture> --no-cache`, from the
//! crate root with a relative fixture path, and checks that it exits non-zero, that its
//! stderr is exactly `error: <message>` (trimmed) and that it never panics.
//!
//! The fixtures live in `tests/fixtures/invalid/`: one small descriptor per case
//! (`<case>.toml`) and, in `data/`, tiny hand-written CSV and libFM files that the
//! descriptors point at through `dir = ["data"]`. `data/clicks.csv` is a valid file that
//! descriptor-level cases share; the other data files each hold exactly one mistake.
//!
//! To add a case: write the fixture, run
//! `cargo run -- data inspect tests/fixtures/invalid/<case>.toml --no-cache`, check that
//! the message names the right file, line, column and key, then add a test below.

use assert_cmd::Command;

const DIR: &str = "tests/fixtures/invalid";

/// Runs `data inspect` on a fixture and returns its trimmed stderr, after checking that
/// it failed cleanly.
fn inspect_error(fixture: &str) -> String {
    let path = format!("{DIR}/{fixture}");
    let output = Command::cargo_bin("apg-bench")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("APG_BENCH_CACHE")
        .args(["data", "inspect", &path, "--no-cache"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    assert!(!output.status.success(), "{fixture}: expected failure, got success; stderr: {stderr}");
    assert_ne!(output.status.code(), Some(0), "{fixture}");
    assert!(!stderr.contains("panicked"), "{fixture}: panicked: {stderr}");
    stderr
}

/// Asserts the exact message for `fixture`; `{d}` in `expected` stands for the fixture
/// folder.
fn check(fixture: &str, expected: &str) {
    let expected = format!("error: {}", expected.replace("{d}", DIR));
    assert_eq!(inspect_error(fixture), expected, "fixture {fixture}");
}

// ---- TOML syntax and structure (file:line:col, key path) ----
// Serde errors point at the offending value (wrong type, unknown variant) or, for an
// unknown key, at that key with the path of the table holding it (none at top level).

#[test]
fn syntax_error() {
    check("syntax-error.toml", "{d}/syntax-error.toml:3:8: unclosed table, expected `]`");
}

#[test]
fn unknown_top_level_key() {
    check(
        "unknown-top-key.toml",
        "{d}/unknown-top-key.toml:2:1: unknown field `colour`, expected one of `name`, `description`, \
         `licence`, `source`, `synthetic`, `label`, `fields`, `derived`, `split`",
    );
}

#[test]
fn unknown_key_in_fields() {
    check(
        "unknown-field-key.toml",
        "{d}/unknown-field-key.toml:18:1: fields[1]: unknown field `colum`, expected one of `name`, `kind`, \
         `column`, `min_count`, `separator`, `transform`, `bins`, `columns`, `missing`, `prefix`, `substring`, \
         `time_format`, `time_part`, `edges`, `labels`",
    );
}

#[test]
fn unknown_field_kind() {
    check(
        "unknown-kind.toml",
        "{d}/unknown-kind.toml:17:8: fields[1].kind: unknown variant `categorial`, expected one of `categorical`, \
         `numeric`, `multi_categorical`",
    );
}

#[test]
fn label_threshold_not_a_number() {
    check(
        "threshold-string.toml",
        "{d}/threshold-string.toml:10:13: label.threshold: invalid type: string \"four\", expected f64",
    );
}

#[test]
fn label_threshold_not_finite() {
    check("threshold-nan.toml", "{d}/threshold-nan.toml:10:1: label.threshold: threshold must be a finite number");
}

// ---- descriptor semantics (file:line:col of the key, or of its table when absent) ----

#[test]
fn missing_source_dir() {
    // No `dir` key: located at its parent table, [source].
    check(
        "missing-source-dir.toml",
        "{d}/missing-source-dir.toml:3:1: source.dir: give the folder(s) the data files are in",
    );
}

#[test]
fn csv_without_header() {
    check(
        "csv-without-header.toml",
        "{d}/csv-without-header.toml:7:1: source.header: a csv file without a header row needs `columns` naming \
         its columns, in order",
    );
}

#[test]
fn split_ratios_not_summing_to_one() {
    check(
        "bad-ratios.toml",
        "{d}/bad-ratios.toml:20:1: split.ratios: ratios must be shares in [0, 1] summing to 1, got [0.8, 0.1, 0.2]",
    );
}

#[test]
fn time_split_without_column() {
    check("time-split-no-column.toml", "{d}/time-split-no-column.toml:20:1: split.kind: a time split needs `column`");
}

#[test]
fn duplicate_field_name() {
    check("duplicate-field.toml", "{d}/duplicate-field.toml:20:1: fields[2].name: duplicate field name \"user\"");
}

#[test]
fn bucket_edges_not_ascending() {
    check(
        "bucket-edges-descending.toml",
        "{d}/bucket-edges-descending.toml:23:1: derived[0].edges: edges must be finite and strictly ascending",
    );
}

#[test]
fn bucket_labels_count_mismatch() {
    check(
        "bucket-labels-count.toml",
        "{d}/bucket-labels-count.toml:24:1: derived[0].labels: 2 edges make 3 buckets, but 2 labels are given",
    );
}

// ---- where the data is ----

#[test]
fn data_folder_not_found() {
    // Not a dataset `data fetch` knows, so no fetch hint.
    check(
        "data-dir-not-found.toml",
        "dataset `bad`: no data folder found (looked in: {d}/no-such-folder); edit source.dir in \
         {d}/data-dir-not-found.toml",
    );
}

#[test]
fn missing_data_file() {
    check(
        "missing-data-file.toml",
        "{d}/data/nowhere.csv: missing file (needed by source.path in {d}/missing-data-file.toml)",
    );
}

// ---- CSV contents (data file:line) ----

#[test]
fn missing_column() {
    check(
        "missing-column.toml",
        "{d}/data/clicks.csv:1: no column `cost` (needed by fields[1] (price)); the columns are: user, item, price, \
         ts, clicked",
    );
}

#[test]
fn extra_column() {
    check("extra-column.toml", "{d}/data/extra-column.csv:3: 6 values but the header has 5 columns");
}

#[test]
fn unclosed_quote() {
    check(
        "unclosed-quote.toml",
        "{d}/data/unclosed-quote.csv:3: 2 values but the header has 5 columns: a quoted value opened on this line \
         runs on over the following lines; is a closing `\"` missing?",
    );
}

#[test]
fn bad_number() {
    check("bad-number.toml", "{d}/data/bad-number.csv:4: column `price`: \"cheap\" is not a number");
}

#[test]
fn bad_label_without_threshold() {
    check(
        "bad-label.toml",
        "{d}/data/bad-label.csv:3: column `clicked`: label \"yes\" is not 0/1 or -1/+1 (set label.threshold to \
         binarise other values)",
    );
}

#[test]
fn bad_label_with_threshold() {
    // With a threshold the label must be a number; the hint to set one would be wrong.
    check("label-not-a-number.toml", "{d}/data/bad-label.csv:3: column `clicked`: \"yes\" is not a number");
}

#[test]
fn duplicate_column_in_the_header() {
    check(
        "duplicate-column.toml",
        "{d}/data/duplicate-column.csv:1: column `user` appears twice in the header, as columns 1 and 4 (needed by \
         fields[0] (user)): rename one of them",
    );
}

#[test]
fn invalid_utf8_in_a_value() {
    check(
        "not-utf8.toml",
        "{d}/data/not-utf8.csv:3: column `title`: \"Mis\\xe9rables\" is not valid UTF-8 (byte 3 of the value); \
         source.encoding is \"utf-8\": if the file is latin-1, say encoding = \"latin-1\", else convert it to UTF-8",
    );
}

#[test]
fn invalid_utf8_in_the_header() {
    check(
        "not-utf8-header.toml",
        "{d}/data/not-utf8-header.csv:1: the header's column 2: \"ann\\xe9e\" is not valid UTF-8 (byte 3 of the \
         value); source.encoding is \"utf-8\": if the file is latin-1, say encoding = \"latin-1\", else convert it \
         to UTF-8",
    );
}

// ---- files that are not text (the file, what it looks like, what to do) ----

#[test]
fn utf16_file() {
    check(
        "utf16.toml",
        "{d}/data/utf16.csv: looks like UTF-16 text (little-endian, byte order mark FF FE); apg-bench reads UTF-8 or \
         latin-1 text: convert it, e.g. `iconv -f UTF-16 -t UTF-8 FILE > FILE.csv`",
    );
}

#[test]
fn binary_file() {
    check(
        "binary.toml",
        "{d}/data/binary.csv: looks like binary data, not text (a 0 byte at offset 8); give a CSV/TSV or libFM text \
         file, plain, gzip- or zstd-compressed (or a Parquet file with format = \"parquet\")",
    );
}

// ---- libFM contents (data file:line) ----

#[test]
fn libfm_non_binary_value() {
    check(
        "libfm-bad-value.toml",
        "{d}/data/bad-value.libfm:2: feature \"6:0.5\": only binary features (value 1) are supported",
    );
}

#[test]
fn libfm_wrong_number_of_features() {
    check(
        "libfm-bad-width.toml",
        "{d}/data/bad-width.libfm:3: 2 features, but line 1 has 3; every row needs one feature per field",
    );
}

#[test]
fn libfm_index_not_a_number() {
    check("libfm-bad-index.toml", "{d}/data/bad-index.libfm:2: feature \"x6:1\": the index is not a whole number");
}

#[test]
fn libfm_row_without_label() {
    check(
        "libfm-no-label.toml",
        "{d}/data/no-label.libfm:2: the row starts with the feature \"2:1\"; every row starts with its label",
    );
}

#[test]
fn libfm_row_with_only_a_label() {
    check(
        "libfm-label-only.toml",
        "{d}/data/label-only.libfm:2: a label without features; every row needs one feature per field",
    );
}

#[test]
fn libfm_file_with_fewer_fields_than_the_first_file() {
    // Each file alone is consistent; the test file's rows are short against the train file's.
    check(
        "libfm-short-file.toml",
        "{d}/data/short-test.libfm:1: 2 features, but {d}/data/train.libfm:1 has 3; every row needs one feature per \
         field",
    );
}

// ---- names and leaks (descriptor file:line:col, key) ----

#[test]
fn dataset_name_with_a_path() {
    // The name is the cache file's name: `../escaped` would write beside the cache folder.
    check(
        "name-escapes.toml",
        "{d}/name-escapes.toml:1:1: name: dataset name \"../escaped\" must be 1 to 64 letters, digits, '.', '_' or \
         '-', starting with a letter or digit (it names the cache file)",
    );
}

#[test]
fn label_column_as_a_field() {
    check(
        "label-as-field.toml",
        "{d}/label-as-field.toml:16:1: fields[1].name: field \"clicked\" reads column `clicked`, the label \
         (label.column): an input or condition made from the label gives the answer away; remove it",
    );
}

#[test]
fn label_column_as_the_column_of_a_field() {
    check(
        "label-as-column.toml",
        "{d}/label-as-column.toml:18:1: fields[1].column: field \"outcome\" reads column `clicked`, the label \
         (label.column): an input or condition made from the label gives the answer away; remove it",
    );
}

#[test]
fn field_derived_from_the_label() {
    check(
        "label-derived.toml",
        "{d}/label-derived.toml:18:1: derived[0].column: derived field \"clicked_placebo\" is computed from column \
         `clicked`, the label (label.column): an input or condition made from the label gives the answer away; \
         remove it",
    );
}

// ---- sizes the machine cannot hold: refused before anything is generated ----
// 10^15 of anything is far beyond the 1 TiB ceiling, so the message does not depend on
// the memory of the machine running the test.

#[test]
fn synthetic_sizes_too_large_for_memory() {
    for (key, need) in [("users", "171 PiB"), ("items", "171 PiB"), ("categories", "185 PiB"), ("rows", "85.3 PiB")] {
        check(
            &format!("synthetic-too-many-{key}.toml"),
            &format!(
                "{{d}}/synthetic-too-many-{key}.toml:8:1: synthetic.{key}: generating this data would need about \
                 {need}, more than the 1.00 TiB apg-bench allows at most: lower synthetic.{key}"
            ),
        );
    }
}
