//! The data engine on every format: exact counts on the real datasets (found through
//! APG_BENCH_DATA; skipped with a message when it is unset, failing instead under
//! APG_BENCH_REQUIRE_ALL), CSV round trips, vocabulary
//! and OOV rules, split determinism, derived fields on a hand-made table (the shuffled
//! placebo included), and the cache.

mod common;

use std::path::{Path, PathBuf};

use apg_bench::data::{self, Column, EncodedDataset, LoadOptions, LoadedDescriptor};

/// The real datasets' folder; None (after saying so, or failing under
/// `APG_BENCH_REQUIRE_ALL`) where it is not given.
fn shared_data() -> Option<PathBuf> {
    const PROVIDE: &str =
        "set APG_BENCH_DATA to a folder holding ml-100k/, frappe/ and criteo-samples/ (the README's test command does)";
    match std::env::var_os("APG_BENCH_DATA").filter(|v| !v.is_empty()).map(PathBuf::from) {
        Some(dir) if dir.is_dir() => Some(dir.canonicalize().expect("a folder has a canonical path")),
        Some(dir) => {
            common::skip(&format!("APG_BENCH_DATA={} is not a folder", dir.display()), PROVIDE);
            None
        }
        None => {
            common::skip("APG_BENCH_DATA is not set", PROVIDE);
            None
        }
    }
}

/// A real-data test without the data is skipped, saying so on stderr, and fails where
/// every test must run.
#[test]
fn a_real_data_test_without_data_says_it_was_skipped_and_fails_under_require_all() {
    let test = "movielens_100k_random_split_is_8_1_1";
    let skipped = common::rerun(test, &[("APG_BENCH_DATA", None), (common::REQUIRE_ALL, None)]);
    let printed = common::printed(&skipped);
    assert!(skipped.status.success(), "{printed}");
    assert!(
        printed.contains(&format!("skipped: {test}: APG_BENCH_DATA is not set: set APG_BENCH_DATA to")),
        "{printed}"
    );
    for require in ["1", "true"] {
        let failed = common::rerun(test, &[("APG_BENCH_DATA", None), (common::REQUIRE_ALL, Some(require))]);
        let printed = common::printed(&failed);
        assert!(!failed.status.success(), "{printed}");
        let expected =
            format!("APG_BENCH_REQUIRE_ALL is set, so {test} may not be skipped, but APG_BENCH_DATA is not set");
        assert!(printed.contains(&expected), "{printed}");
    }
}

/// Loads a descriptor written into `dir`, caching into `dir/cache`.
fn load_text(dir: &Path, text: &str) -> (EncodedDataset, data::LoadReport) {
    let file = dir.join("dataset.toml");
    std::fs::write(&file, text).unwrap();
    let descriptor = LoadedDescriptor::from_file(&file).unwrap_or_else(|e| panic!("{e}"));
    let options = LoadOptions { cache_dir: Some(dir.join("cache")), no_cache: false };
    data::load(&descriptor, &options).unwrap_or_else(|e| panic!("{e}"))
}

fn ids(dataset: &EncodedDataset, field: &str) -> Vec<u32> {
    match &dataset.field(field).unwrap().column {
        Column::Ids(ids) => ids.to_vec(),
        other => panic!("{field} is not single-id: {other:?}"),
    }
}

/// The value of `field` in `row`, as text.
fn value(dataset: &EncodedDataset, field: &str, row: usize) -> String {
    let f = dataset.field(field).unwrap();
    f.info.vocab[ids(dataset, field)[row] as usize].clone()
}

fn builtin_with_split(name: &str, split: &str) -> String {
    let text = data::descriptor::BUILT_IN.iter().find(|(n, _)| *n == name).unwrap().1;
    let start = text.find("[split]").unwrap();
    format!("{}{split}", &text[..start])
}

#[test]
fn movielens_100k_has_the_published_counts() {
    let Some(shared) = shared_data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // Everything in training, so that the vocabularies hold every user and item.
    let text = builtin_with_split("movielens-100k", "[split]\nratios = [1.0, 0.0, 0.0]\n");
    let text = text.replace("${APG_BENCH_DATA}", shared.to_str().unwrap());
    let (dataset, _) = load_text(tmp.path(), &text);
    assert_eq!(dataset.rows(), 100_000);
    assert_eq!(dataset.labels.iter().filter(|&&l| l == 1).count(), 55_375);
    assert_eq!(dataset.field("user").unwrap().info.vocab.len(), 943 + 1);
    assert_eq!(dataset.field("item").unwrap().info.vocab.len(), 1_682 + 1);
    assert_eq!(dataset.field("gender").unwrap().info.vocab, vec!["<oov>", "M", "F"]);
    assert_eq!(dataset.field("occupation").unwrap().info.vocab.len(), 21 + 1);
    // Row 1 of u.data: user 196 rates item 242 ("Kolya (1996)", Comedy) with 3.
    assert_eq!(value(&dataset, "user", 0), "196");
    assert_eq!(value(&dataset, "item", 0), "242");
    assert_eq!(dataset.labels[0], 0);
    let genres = dataset.field("genres").unwrap();
    let Column::Multi { offsets, ids: genre_ids } = &genres.column else { panic!("genres are multi-valued") };
    let first: Vec<&str> = genre_ids[offsets[0] as usize..offsets[1] as usize]
        .iter()
        .map(|&i| genres.info.vocab[i as usize].as_str())
        .collect();
    assert_eq!(first, vec!["Comedy"]);
    // User 196 is 49 years old: the 45-49 bucket; gender counts from the README.
    assert_eq!(value(&dataset, "age_bucket", 0), "45-49");
    let gender = ids(&dataset, "gender");
    assert_eq!(gender.iter().filter(|&&g| g == 2).count(), 25_740);
}

#[test]
fn movielens_100k_random_split_is_8_1_1() {
    let Some(shared) = shared_data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let text = data::descriptor::BUILT_IN[1].1.replace("${APG_BENCH_DATA}", shared.to_str().unwrap());
    let (dataset, _) = load_text(tmp.path(), &text);
    let split = &dataset.split;
    assert_eq!((split.train.len(), split.valid.len(), split.test.len()), (80_000, 10_000, 10_000));
}

#[test]
fn frappe_libfm_files_load_with_exact_counts() {
    let Some(shared) = shared_data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // The shared copy lacks frappe.train.libfm: train on the validation file, carve
    // 10 % of it for validation, test on the test file.
    let text = builtin_with_split(
        "frappe",
        "[split]\nkind = \"files\"\ntrain = \"frappe.validation.libfm\"\ntest = \"frappe.test.libfm\"\nratios = [0.9, 0.1, 0.0]\n",
    )
    .replace("${APG_BENCH_DATA}", shared.to_str().unwrap());
    let (dataset, _) = load_text(tmp.path(), &text);
    assert_eq!(dataset.rows(), 57_722 + 28_860);
    assert_eq!(dataset.labels.iter().filter(|&&l| l == 1).count(), 19_063 + 9_536);
    assert_eq!(dataset.split.test.len(), 28_860);
    assert_eq!(dataset.split.valid.len(), 5_772);
    assert_eq!(dataset.split.train.len(), 57_722 - 5_772);
    assert_eq!(dataset.fields.iter().filter(|f| !f.info.derived).count(), 10);
    // Test rows come after the training file's rows.
    assert!(dataset.split.test.iter().all(|&r| r >= 57_722));
    // First line: `1 266:1 1244:1 5042:1 ...`.
    assert_eq!(value(&dataset, "user", 0), "266");
    assert_eq!(value(&dataset, "daytime", 0), "5042");
    assert_eq!(dataset.labels[0], 1);
}

const CSV_DESCRIPTOR: &str = r#"
name = "roundtrip"
[source]
format = "csv"
dir = ["."]
path = "data.csv"
separator = ";"
[label]
column = "y"
[[fields]]
name = "user"
kind = "categorical"
[[fields]]
name = "title"
kind = "categorical"
[[fields]]
name = "tags"
kind = "multi_categorical"
[split]
ratios = [1.0, 0.0, 0.0]
"#;

#[test]
fn csv_round_trip_keeps_every_value() {
    let tmp = tempfile::tempdir().unwrap();
    let rows: Vec<(String, String, Vec<&str>, u8)> = (0..50)
        .map(|i| {
            let title = match i % 3 {
                0 => format!("\"Film {i}; part \"\"two\"\"\""),
                1 => format!("Plain {i}"),
                _ => format!("Ünïcode {i}"),
            };
            let tags = [vec!["a"], vec!["a", "b"], vec![]][i % 3].clone();
            (format!("u{}", i % 7), title, tags, (i % 2) as u8)
        })
        .collect();
    let mut csv = String::from("user;title;tags;y\n");
    for (user, title, tags, y) in &rows {
        csv += &format!("{user};{title};{};{y}\n", tags.join("|"));
    }
    std::fs::write(tmp.path().join("data.csv"), csv).unwrap();
    let (dataset, _) = load_text(tmp.path(), CSV_DESCRIPTOR);
    assert_eq!(dataset.rows(), rows.len());
    let tags = dataset.field("tags").unwrap();
    let Column::Multi { offsets, ids } = &tags.column else { panic!("multi") };
    for (row, (user, title, expected_tags, y)) in rows.iter().enumerate() {
        assert_eq!(&value(&dataset, "user", row), user);
        let unquoted = match title.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => title.clone(),
        };
        assert_eq!(value(&dataset, "title", row), unquoted);
        let decoded: Vec<&str> = ids[offsets[row] as usize..offsets[row + 1] as usize]
            .iter()
            .map(|&i| tags.info.vocab[i as usize].as_str())
            .collect();
        assert_eq!(&decoded, expected_tags);
        assert_eq!(dataset.labels[row], *y);
    }
}

#[test]
fn latin1_and_tab_separated_files_decode() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("data.csv"), b"user\ttitle\ttags\ty\nu1\tMis\xe9rables\tx\t1\nu2\tplain\tx\t0\n")
        .unwrap();
    let text = CSV_DESCRIPTOR.replace("separator = \";\"", "separator = \"\\t\"\nencoding = \"latin-1\"")
        + "[[derived]]\nname = \"title_placebo\"\nkind = \"shuffled\"\ncolumn = \"title\"\nseed = 3\n";
    let (dataset, _) = load_text(tmp.path(), &text);
    assert_eq!(value(&dataset, "title", 0), "Misérables");
    // A shuffled field decodes its values as the file's fields do.
    let mut placebo = vec![value(&dataset, "title_placebo", 0), value(&dataset, "title_placebo", 1)];
    placebo.sort();
    assert_eq!(placebo, ["Misérables", "plain"]);
}

/// A hand-made table: 10 rows, user a has 5 rows, b 3, c 1, d 1 (in training).
const HAND_MADE: &str = "user,item,age,ts,y\n\
a,x,10,1,1\na,x,20,2,0\na,y,30,3,1\na,y,40,4,0\na,z,50,5,1\n\
b,x,15,6,0\nb,y,25,7,1\nb,w,,8,0\nc,x,60,9,1\nd,q,70,10,0\n";

fn hand_made_descriptor(extra: &str, split: &str) -> String {
    format!(
        "name = \"hand\"\n[source]\nformat = \"csv\"\ndir = [\".\"]\npath = \"data.csv\"\n[label]\ncolumn = \"y\"\n\
         [[fields]]\nname = \"user\"\nkind = \"categorical\"\n\
         [[fields]]\nname = \"item\"\nkind = \"categorical\"\nmin_count = 2\n{extra}\n{split}"
    )
}

#[test]
fn vocabularies_come_from_training_rows_with_min_count_and_oov() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("data.csv"), HAND_MADE).unwrap();
    // Time split: rows 1-8 train, 9 valid, 10 test.
    let split = "[split]\nkind = \"time\"\ncolumn = \"ts\"\nratios = [0.8, 0.1, 0.1]\n";
    let (dataset, _) = load_text(tmp.path(), &hand_made_descriptor("", split));
    assert_eq!(dataset.split.train, (0..8).collect::<Vec<u32>>());
    assert_eq!((dataset.split.valid.to_vec(), dataset.split.test.to_vec()), (vec![8], vec![9]));
    // Training counts: a 5, b 3; c and d appear only outside training -> OOV.
    assert_eq!(dataset.field("user").unwrap().info.vocab, vec!["<oov>", "a", "b"]);
    assert_eq!(ids(&dataset, "user"), vec![1, 1, 1, 1, 1, 2, 2, 2, 0, 0]);
    // Items in training: x 3, y 3, z 1, w 1; min_count 2 keeps x and y (ties by first seen).
    assert_eq!(dataset.field("item").unwrap().info.vocab, vec!["<oov>", "x", "y"]);
    assert_eq!(ids(&dataset, "item"), vec![1, 1, 2, 2, 0, 1, 2, 0, 1, 0]);
}

/// The workbench keeps more values per field than `data inspect` prints; either way
/// `distinct` counts every value with a row, so a view can say how many it does not hold.
#[test]
fn statistics_keep_as_many_values_as_asked_and_count_them_all() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("data.csv"), HAND_MADE).unwrap();
    let split = "[split]\nkind = \"time\"\ncolumn = \"ts\"\nratios = [0.8, 0.1, 0.1]\n";
    let (dataset, _) = load_text(tmp.path(), &hand_made_descriptor("", split));
    let user = |stats: &data::stats::DatasetStats| stats.fields.iter().find(|f| f.name == "user").unwrap().clone();
    // Over all rows: a 5, b 3 (c and d are OOV, not values).
    let kept_one = user(&data::stats::dataset_stats_keeping(&dataset, 1));
    let values: Vec<(&str, u64)> = kept_one.top.iter().map(|v| (v.value.as_str(), v.rows)).collect();
    assert_eq!(values, [("a", 5)]);
    assert_eq!(kept_one.distinct, 2);
    let all = user(&data::stats::dataset_stats(&dataset));
    let values: Vec<(&str, u64)> = all.top.iter().map(|v| (v.value.as_str(), v.rows)).collect();
    assert_eq!(values, [("a", 5), ("b", 3)]);
    assert_eq!(all.distinct, 2);
}

#[test]
fn derived_fields_on_a_hand_made_table() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("data.csv"), HAND_MADE).unwrap();
    let derived = "[[derived]]\nname = \"activity\"\nkind = \"activity\"\ncolumn = \"user\"\n\
        [[derived]]\nname = \"activity_t\"\nkind = \"activity\"\ncolumn = \"user\"\nthreshold = 3\n\
        [[derived]]\nname = \"activity_q\"\nkind = \"activity\"\ncolumn = \"user\"\nquantiles = 2\n\
        [[derived]]\nname = \"age_bucket\"\nkind = \"bucket\"\ncolumn = \"age\"\nedges = [18, 45]\n\
        [[derived]]\nname = \"item_frequency\"\nkind = \"frequency\"\ncolumn = \"item\"\nquantiles = 2\n";
    let split = "[split]\nkind = \"time\"\ncolumn = \"ts\"\nratios = [0.8, 0.1, 0.1]\n";
    let (dataset, _) = load_text(tmp.path(), &hand_made_descriptor(derived, split));
    // Training rows per user: a 5, b 3; c, d none. Median of (3, 5) by index: 5.
    let activity = |f: &str| (0..10).map(|r| value(&dataset, f, r)).collect::<Vec<_>>();
    assert_eq!(activity("activity"), ["cold"; 10]);
    // Threshold 3: a (5) active, b (3) cold, unseen users (0) cold.
    let expected_t: Vec<&str> = ["active"; 5].into_iter().chain(["cold"; 5]).collect();
    assert_eq!(activity("activity_t"), expected_t);
    // Two quantile buckets over the per-user counts (3, 5): edge 5.
    assert_eq!(dataset.field("activity_q").unwrap().info.vocab, vec!["<oov>", "q1 (0-4 rows)", "q2 (>= 5 rows)"]);
    assert_eq!(ids(&dataset, "activity_q"), vec![2, 2, 2, 2, 2, 1, 1, 1, 1, 1]);
    // Ages 10..70 (row 8 empty) against edges 18 and 45.
    assert_eq!(dataset.field("age_bucket").unwrap().info.vocab, vec!["<missing>", "< 18", "[18, 45)", ">= 45"]);
    assert_eq!(ids(&dataset, "age_bucket"), vec![1, 2, 2, 2, 3, 1, 2, 0, 3, 3]);
    // Item training counts: x 3, y 3, z 1, w 1, q 0; per-value counts (1, 1, 3, 3): edge 3.
    assert_eq!(ids(&dataset, "item_frequency"), vec![2, 2, 2, 2, 1, 2, 2, 1, 2, 1]);
}

#[test]
fn the_same_seed_gives_the_same_split() {
    let tmp = tempfile::tempdir().unwrap();
    let csv: String = std::iter::once("user,item,y\n".to_string())
        .chain((0..1000).map(|i| format!("u{},i{},{}\n", i % 37, i % 11, i % 2)))
        .collect();
    std::fs::write(tmp.path().join("data.csv"), csv).unwrap();
    let split = |seed: u64| {
        let text = hand_made_descriptor("", &format!("[split]\nseed = {seed}\nratios = [0.7, 0.2, 0.1]\n"));
        let (dataset, _) = load_text(tmp.path(), &text);
        dataset.split
    };
    let (a, b, c) = (split(1), split(1), split(2));
    assert_eq!(a, b);
    assert_ne!(a.train, c.train);
    assert_eq!((a.train.len(), a.valid.len(), a.test.len()), (700, 200, 100));
    let mut all: Vec<u32> = a.train.iter().chain(&a.valid).chain(&a.test).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<u32>>());
}

#[test]
fn the_cache_is_reused_and_a_tampered_cache_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("data.csv"), HAND_MADE).unwrap();
    let text = hand_made_descriptor("", "");
    let (first, report) = load_text(tmp.path(), &text);
    assert!(!report.from_cache);
    let (second, report) = load_text(tmp.path(), &text);
    assert!(report.from_cache, "second load reads the cache");
    assert_eq!(first, second);
    // The raw ids of a field whose vocabulary pools values (for GAUC) come back too.
    assert!(first.fields.iter().any(|f| f.pooled.is_some()), "no field pools values: the test proves nothing");

    // Flip one byte of the payload: the checksum catches it and the data is rebuilt.
    let cache = report.cache_file.unwrap();
    let mut bytes = std::fs::read(&cache).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x55;
    std::fs::write(&cache, &bytes).unwrap();
    let (third, report) = load_text(tmp.path(), &text);
    assert!(!report.from_cache);
    assert!(report.cache_note.unwrap().contains("corrupt"));
    assert_eq!(first, third);
    // The rebuilt cache is good again.
    assert!(load_text(tmp.path(), &text).1.from_cache);

    // A truncated cache is corrupt too.
    std::fs::write(&cache, &std::fs::read(&cache).unwrap()[..40]).unwrap();
    assert!(load_text(tmp.path(), &text).1.cache_note.unwrap().contains("corrupt"));

    // Changing the source makes the cache stale.
    std::fs::write(tmp.path().join("data.csv"), HAND_MADE.replace("a,x,10,1,1", "a,x,10,1,0")).unwrap();
    let (changed, report) = load_text(tmp.path(), &text);
    assert!(report.cache_note.unwrap().contains("stale"));
    assert_eq!(changed.labels[0], 0);
}

/// `bytes` with the layout at its end replaced by `layout`, its length and CRC made right.
fn resealed(bytes: &[u8], layout: &serde_json::Value) -> Vec<u8> {
    let offset = u64::from_le_bytes(bytes[44..52].try_into().unwrap()) as usize;
    let json = serde_json::to_vec(layout).unwrap();
    let mut out = bytes[..offset].to_vec();
    out.extend_from_slice(&json);
    out[52..60].copy_from_slice(&(json.len() as u64).to_le_bytes());
    let crc = crc32fast::hash(&out[64..]);
    out[60..64].copy_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn a_cache_declaring_impossible_lengths_is_rebuilt_without_allocating_them() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("data.csv"), HAND_MADE).unwrap();
    let text = hand_made_descriptor("", "");
    let (first, report) = load_text(tmp.path(), &text);
    let cache = report.cache_file.unwrap();
    let good = std::fs::read(&cache).unwrap();
    // The layout's offset (after magic, version and fingerprint) claims 2^40 bytes and
    // its length 2^39: reading them as they stand would allocate 512 GiB.
    let mut bytes = good.clone();
    bytes[44..52].copy_from_slice(&(1u64 << 40).to_le_bytes());
    bytes[52..60].copy_from_slice(&(1u64 << 39).to_le_bytes());
    std::fs::write(&cache, &bytes).unwrap();
    for _ in 0..2 {
        let (again, report) = load_text(tmp.path(), &text);
        assert_eq!(report.cache_note.as_deref(), Some("cache was corrupt (wrong length): rebuilt"));
        assert_eq!(again, first);
        // Corrupt it again for the second round: a later load must not die either.
        std::fs::write(&cache, &bytes).unwrap();
    }
    // With the header right and the checksum matching, an array declaring 2^39 values
    // (far beyond the file) is refused.
    let offset = u64::from_le_bytes(good[44..52].try_into().unwrap()) as usize;
    let mut layout: serde_json::Value = serde_json::from_slice(&good[offset..]).unwrap();
    layout["columns"][0]["ids"]["len"] = serde_json::json!(1u64 << 39);
    std::fs::write(&cache, resealed(&good, &layout)).unwrap();
    let (again, report) = load_text(tmp.path(), &text);
    assert_eq!(report.cache_note.as_deref(), Some("cache was corrupt (truncated or inconsistent): rebuilt"));
    assert_eq!(again, first);
    // The resealing is right: the same layout unchanged reads as a good cache.
    let unchanged: serde_json::Value = serde_json::from_slice(&good[offset..]).unwrap();
    std::fs::write(&cache, resealed(&good, &unchanged)).unwrap();
    assert!(load_text(tmp.path(), &text).1.from_cache);
}

#[cfg(unix)]
#[test]
fn a_fifo_in_place_of_the_cache_is_not_opened() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("data.csv"), HAND_MADE).unwrap();
    let text = hand_made_descriptor("", "");
    let (first, report) = load_text(tmp.path(), &text);
    let cache = report.cache_file.unwrap();
    std::fs::remove_file(&cache).unwrap();
    let status = std::process::Command::new("mkfifo").arg(&cache).status().unwrap();
    assert!(status.success());
    // Opening the FIFO would wait for a writer for ever; it is a corrupt cache instead,
    // replaced by the rebuilt one.
    let (again, report) = load_text(tmp.path(), &text);
    assert_eq!(report.cache_note.as_deref(), Some("cache was corrupt (not a regular file): rebuilt"));
    assert_eq!(again, first);
    assert!(std::fs::metadata(&cache).unwrap().is_file());
}

#[test]
fn an_unwritable_cache_warns_and_still_loads() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("data.csv"), HAND_MADE).unwrap();
    let file = tmp.path().join("dataset.toml");
    std::fs::write(&file, hand_made_descriptor("", "")).unwrap();
    // A regular file where the cache folder should be: creating the folder fails.
    std::fs::write(tmp.path().join("blocked"), "").unwrap();
    let options = LoadOptions { cache_dir: Some(tmp.path().join("blocked").join("cache")), no_cache: false };
    let (dataset, report) = data::load(&LoadedDescriptor::from_file(&file).unwrap(), &options).unwrap();
    assert_eq!(dataset.rows(), 10);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
}

#[test]
fn the_synthetic_default_is_deterministic_and_has_headroom() {
    let tmp = tempfile::tempdir().unwrap();
    let text = data::descriptor::BUILT_IN[0].1.replace("rows = 200000", "rows = 30000");
    let (a, _) = load_text(tmp.path(), &text);
    let (b, _) = data::load(
        &LoadedDescriptor::from_text(Path::new("x.toml"), &text, tmp.path().into()).unwrap(),
        &LoadOptions { no_cache: true, ..Default::default() },
    )
    .unwrap();
    assert_eq!(a, b, "same seed, same data");
    let stats = data::stats::dataset_stats(&a);
    let bayes = stats.bayes.unwrap();
    let auc = bayes.test_auc.unwrap();
    assert!(auc > 0.75 && auc < 0.95, "Bayes AUC {auc}");
    // Long-tailed domains: the largest holds several times the rows of the smallest.
    let domain = stats.conditions.iter().find(|c| c.field == "domain").unwrap();
    assert!(domain.rows_max > 3 * domain.rows_min, "{} vs {}", domain.rows_max, domain.rows_min);
    // Cold and active users both exist.
    assert_eq!(stats.conditions.iter().find(|c| c.field == "user_activity").unwrap().values, 2);
}

/// `kind = "shuffled"`: the source column's values permuted over all rows by `seed`, a
/// placebo with the same values and frequencies. Checked against a categorical field of
/// the same column (every row in training, so its vocabulary holds every value and
/// empty cells read `<missing>`): the same multiset of values row by row, index 0 (the
/// OOV id) never used, the same permutation for the same seed (in one load, in another
/// folder, from the cache) and another for another seed (the cache is not reused
/// across seeds).
#[test]
fn shuffled_fields_permute_the_column_over_the_rows() {
    // 40 users of 3 rows each; cities of unequal frequencies, one cell in 7 empty.
    let mut csv = String::from("user,city,y\n");
    for i in 0..120 {
        let city = if i % 7 == 3 { String::new() } else { format!("c{}", (i * i) % 11) };
        csv += &format!("u{},{city},{}\n", i % 40, i % 2);
    }
    let descriptor = |seed: u64| {
        format!(
            "name = \"placebo\"\n[source]\nformat = \"csv\"\ndir = [\".\"]\npath = \"data.csv\"\n[label]\ncolumn = \"y\"\n\
             [[fields]]\nname = \"user\"\nkind = \"categorical\"\n\
             [[fields]]\nname = \"city\"\nkind = \"categorical\"\n\
             [[derived]]\nname = \"user_placebo\"\nkind = \"shuffled\"\ncolumn = \"user\"\nseed = {seed}\n\
             [[derived]]\nname = \"user_placebo_again\"\nkind = \"shuffled\"\ncolumn = \"user\"\nseed = {seed}\n\
             [[derived]]\nname = \"city_placebo\"\nkind = \"shuffled\"\ncolumn = \"city\"\nseed = {seed}\n\
             [split]\nratios = [1.0, 0.0, 0.0]\n"
        )
    };
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&first, &second] {
        std::fs::write(dir.path().join("data.csv"), &csv).unwrap();
    }
    let (dataset, report) = load_text(first.path(), &descriptor(1));
    assert!(!report.from_cache);
    let values = |dataset: &EncodedDataset, field: &str| (0..120).map(|r| value(dataset, field, r)).collect::<Vec<_>>();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    for (source, placebo) in [("user", "user_placebo"), ("city", "city_placebo")] {
        let field = dataset.field(placebo).unwrap();
        assert!(field.info.derived);
        assert_eq!(field.info.vocab[0], "<oov>", "{placebo}: index 0 is the OOV id");
        assert!(ids(&dataset, placebo).iter().all(|&id| id != 0), "{placebo}: a row holds the OOV id");
        let (original, shuffled) = (values(&dataset, source), values(&dataset, placebo));
        assert_eq!(sorted(shuffled.clone()), sorted(original.clone()), "{placebo}: the same values, as often");
        let mut distinct = sorted(original.clone());
        distinct.dedup();
        assert_eq!(field.info.vocab.len(), distinct.len() + 1, "{placebo}: one id per value, plus OOV");
        let unmoved = original.iter().zip(&shuffled).filter(|(a, b)| a == b).count();
        assert!(unmoved < 30, "{placebo}: {unmoved} of 120 rows kept their value: not shuffled");
    }
    assert!(values(&dataset, "city").contains(&"<missing>".to_string()));
    let user_placebo = values(&dataset, "user_placebo");
    assert_eq!(values(&dataset, "user_placebo_again"), user_placebo, "the same seed, the same permutation");
    let (elsewhere, _) = load_text(second.path(), &descriptor(1));
    assert_eq!(values(&elsewhere, "user_placebo"), user_placebo, "the same seed in another load");
    let (other_seed, report) = load_text(first.path(), &descriptor(2));
    assert!(!report.from_cache, "another seed is another dataset, not the cached one");
    let same = user_placebo.iter().zip(values(&other_seed, "user_placebo")).filter(|(a, b)| **a == *b).count();
    assert!(same < 30, "seeds 1 and 2 agree on {same} of 120 rows");
    let (cached, report) = load_text(second.path(), &descriptor(1));
    assert!(report.from_cache);
    assert_eq!(values(&cached, "user_placebo"), user_placebo, "the cache keeps the permutation");
}

/// Gzip-compresses `bytes` as one member.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Everything but the fingerprint, which hashes the source bytes as they are on disk.
fn contents(dataset: EncodedDataset) -> EncodedDataset {
    EncodedDataset { fingerprint: String::new(), ..dataset }
}

/// Gzip is recognised by its magic bytes, whatever the file is called, and read as the
/// text it holds; so is a file of several gzip members (`cat a.gz b.gz`) and a UTF-8
/// byte order mark, bare or inside gzip.
#[test]
fn gzip_files_and_a_utf8_byte_order_mark_read_as_the_plain_text() {
    let tmp = tempfile::tempdir().unwrap();
    let plain_text = HAND_MADE.as_bytes();
    std::fs::write(tmp.path().join("data.csv"), plain_text).unwrap();
    let (plain, _) = load_text(tmp.path(), &hand_made_descriptor("", ""));
    assert_eq!(plain.rows(), 10);
    let half = HAND_MADE.find("b,x").unwrap();
    let with_bom = [b"\xef\xbb\xbf", plain_text].concat();
    let variants: [(&str, Vec<u8>); 5] = [
        ("data.csv.gz", gzip(plain_text)),
        ("data.csv", gzip(plain_text)),
        ("data.csv", [gzip(&plain_text[..half]), gzip(&plain_text[half..])].concat()),
        ("data.csv", with_bom.clone()),
        ("data.csv.gz", gzip(&with_bom)),
    ];
    for (i, (name, bytes)) in variants.into_iter().enumerate() {
        let dir = tmp.path().join(format!("v{i}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
        let descriptor = hand_made_descriptor("", "").replace("data.csv", name);
        let (dataset, _) = load_text(&dir, &descriptor);
        assert_eq!(contents(dataset), contents(plain.clone()), "variant {i} ({name})");
    }
}

#[test]
fn a_truncated_or_corrupt_gzip_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let compressed = gzip(HAND_MADE.repeat(50).as_bytes());
    let mut corrupt = compressed.clone();
    corrupt[20] ^= 0xff;
    let inside_utf16: Vec<u8> = HAND_MADE.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let cases = [
        (compressed[..compressed.len() / 2].to_vec(), "the gzip data is corrupt"),
        (corrupt, "the gzip data is corrupt"),
        (gzip(&inside_utf16), "gzip-compressed, and what it holds looks like UTF-16 text (little-endian"),
    ];
    for (bytes, expected) in cases {
        std::fs::write(tmp.path().join("data.csv"), bytes).unwrap();
        let file = tmp.path().join("dataset.toml");
        std::fs::write(&file, hand_made_descriptor("", "")).unwrap();
        let descriptor = LoadedDescriptor::from_file(&file).unwrap();
        let options = LoadOptions { no_cache: true, ..Default::default() };
        let error = data::load(&descriptor, &options).unwrap_err().to_string();
        let path = tmp.path().join("./data.csv").display().to_string();
        assert!(error.starts_with(&path), "{error}");
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn invalid_utf8_in_a_multi_valued_cell_is_refused_unless_the_file_is_latin1() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("data.csv"), b"user;title;tags;y\nu1;t;a|b;1\nu2;t;b|caf\xe9;0\n").unwrap();
    let file = tmp.path().join("dataset.toml");
    std::fs::write(&file, CSV_DESCRIPTOR).unwrap();
    let options = LoadOptions { no_cache: true, ..Default::default() };
    let error = data::load(&LoadedDescriptor::from_file(&file).unwrap(), &options).unwrap_err().to_string();
    let path = tmp.path().join("./data.csv").display().to_string();
    assert!(error.starts_with(&format!("{path}:3: column `tags`: \"caf\\xe9\" is not valid UTF-8 (byte 3")), "{error}");
    let latin1 = CSV_DESCRIPTOR.replace("separator = \";\"", "separator = \";\"\nencoding = \"latin-1\"");
    let (dataset, _) = load_text(tmp.path(), &latin1);
    assert_eq!(dataset.field("tags").unwrap().info.vocab, ["<oov>", "b", "a", "café"]);
}

#[test]
fn dataset_names_that_could_leave_the_cache_folder_are_refused() {
    let text = |name: &str| hand_made_descriptor("", "").replace("name = \"hand\"", &format!("name = {name:?}"));
    let long = "x".repeat(65);
    for name in ["../escaped", "a/b", "a\\b", ".hidden", "..", "", "a b", "-flag", "naïve", long.as_str()] {
        let error = LoadedDescriptor::from_text(Path::new("d.toml"), &text(name), ".".into()).unwrap_err().to_string();
        assert!(error.starts_with(&format!("d.toml:1:1: name: dataset name {name:?} must be")), "{name:?}: {error}");
    }
    for name in ["movielens-100k", "my.data_v2", "A1", &"x".repeat(64)] {
        assert!(LoadedDescriptor::from_text(Path::new("d.toml"), &text(name), ".".into()).is_ok(), "{name:?}");
    }
}

/// A real CTR log as it usually comes, gzip-compressed: the Criteo sample reads the same
/// compressed as plain, with its published counts (200 rows, 49 clicks, C1 27 values).
#[test]
fn the_criteo_sample_reads_the_same_gzip_compressed() {
    let Some(shared) = shared_data() else { return };
    let sample = std::fs::read(shared.join("criteo-samples/deepctr_criteo_sample.txt")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("criteo.txt"), &sample).unwrap();
    std::fs::write(tmp.path().join("criteo.txt.gz"), gzip(&sample)).unwrap();
    let descriptor = |path: &str| {
        format!(
            "name = \"criteo\"\n[source]\nformat = \"csv\"\ndir = [\".\"]\npath = \"{path}\"\n[label]\ncolumn = \"label\"\n\
             [[fields]]\nname = \"C1\"\nkind = \"categorical\"\n[[fields]]\nname = \"I2\"\nkind = \"numeric\"\n\
             [split]\nratios = [1.0, 0.0, 0.0]\n"
        )
    };
    let (plain, _) = load_text(tmp.path(), &descriptor("criteo.txt"));
    let (compressed, _) = load_text(tmp.path(), &descriptor("criteo.txt.gz"));
    assert_eq!((plain.rows(), plain.labels.iter().filter(|&&l| l == 1).count()), (200, 49));
    assert_eq!(plain.field("C1").unwrap().info.vocab.len(), 27 + 1);
    assert_eq!(contents(compressed), contents(plain));
}

/// The built-in `example-csv` ships its small data file in the binary: from a folder with
/// no `datasets/` it still loads, every row of the shipped file, read from a copy in the
/// user's cache folder.
#[test]
fn the_built_in_example_csv_loads_outside_the_repository() {
    let outside = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_apg-bench"))
        .args(["data", "inspect", "example-csv", "--json"])
        .current_dir(outside.path())
        .env("XDG_CACHE_HOME", outside.path().join("cache"))
        .env_remove("APG_BENCH_CACHE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // Counted independently: the data lines of the file in the repository.
    let shipped = std::fs::read_to_string("datasets/example/clicks.csv").unwrap();
    let data_lines = shipped.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
    assert_eq!(report["dataset"]["rows"].as_u64(), Some(data_lines as u64));
    assert!(outside.path().join("cache/apg-bench/built-in/example/clicks.csv").is_file());
}
