//! Real CTR logs as they come, read by the descriptors shipped in datasets/: the samples
//! of Criteo, Avazu, Taobao Ad, KuaiRand and MovieLens-1M (found through APG_BENCH_DATA;
//! skipped with a message when it is unset, failing instead under APG_BENCH_REQUIRE_ALL),
//! a MIND impression log fixture, the Kaggle Criteo file without a header and zstd
//! compressed, ML-1M's `::` ratings, Parquet against CSV, and the errors of the new keys.
//! Expected counts were counted on the files by a separate script (Python's csv module).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use apg_bench::data::{self, Column, EncodedDataset, LoadOptions, LoadReport, LoadedDescriptor};

fn shared_data() -> Option<PathBuf> {
    const PROVIDE: &str = "set APG_BENCH_DATA to the folder of the shared samples (criteo-samples/, avazu-samples/, \
                           taobao-ad-samples/, kuairand-samples/, ml-1m-samples/)";
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

/// A shipped descriptor's text.
fn shipped_text(name: &str) -> String {
    std::fs::read_to_string(Path::new("datasets").join(format!("{name}.toml"))).unwrap()
}

/// Loads a shipped descriptor (its `${APG_BENCH_DATA}` pointing at `shared`), uncached.
fn load_shipped(name: &str, shared: &Path) -> (EncodedDataset, LoadReport) {
    let text = shipped_text(name).replace("${APG_BENCH_DATA}", shared.to_str().unwrap());
    load(&Path::new("datasets").join(format!("{name}.toml")), &text, PathBuf::from("datasets"))
}

fn load(file: &Path, text: &str, base_dir: PathBuf) -> (EncodedDataset, LoadReport) {
    let descriptor = LoadedDescriptor::from_text(file, text, base_dir).unwrap_or_else(|e| panic!("{e}"));
    data::load(&descriptor, &LoadOptions { cache_dir: None, no_cache: true }).unwrap_or_else(|e| panic!("{e}"))
}

/// Loads `text` written as `dir/dataset.toml`, with the error if it fails.
fn try_load(dir: &Path, text: &str) -> Result<(EncodedDataset, LoadReport), String> {
    let file = dir.join("dataset.toml");
    std::fs::write(&file, text).unwrap();
    let descriptor = LoadedDescriptor::from_file(&file).map_err(|e| e.to_string())?;
    let options = LoadOptions { cache_dir: Some(dir.join("cache")), no_cache: false };
    data::load(&descriptor, &options).map_err(|e| e.to_string())
}

fn value(dataset: &EncodedDataset, field: &str, row: usize) -> String {
    let field = dataset.field(field).unwrap_or_else(|| panic!("no field {field}"));
    let Column::Ids(ids) = &field.column else { panic!("{} is not single-valued", field.info.name) };
    field.info.vocab[ids[row] as usize].clone()
}

fn values(dataset: &EncodedDataset, field: &str, row: usize) -> Vec<String> {
    let field = dataset.field(field).unwrap();
    let Column::Multi { offsets, ids } = &field.column else { panic!("{} is not multi-valued", field.info.name) };
    ids[offsets[row] as usize..offsets[row + 1] as usize]
        .iter()
        .map(|&i| field.info.vocab[i as usize].clone())
        .collect()
}

fn clicks(dataset: &EncodedDataset) -> usize {
    dataset.labels.iter().filter(|&&l| l == 1).count()
}

fn sizes(dataset: &EncodedDataset) -> (usize, usize, usize) {
    (dataset.split.train.len(), dataset.split.valid.len(), dataset.split.test.len())
}

#[test]
fn criteo_sample_loads_in_file_order() {
    let Some(shared) = shared_data() else { return };
    let (dataset, _) = load_shipped("criteo", &shared);
    assert_eq!((dataset.rows(), clicks(&dataset)), (200, 49));
    assert_eq!(sizes(&dataset), (160, 20, 20));
    assert_eq!(dataset.split.train, (0..160).collect::<Vec<u32>>());
    assert_eq!(dataset.split.test, (180..200).collect::<Vec<u32>>());
    assert_eq!(dataset.field("I1").unwrap().info.missing_rows, 90);
    // C1 values seen at least twice in the first 160 rows, and the OOV id.
    assert_eq!(dataset.field("C1").unwrap().info.vocab.len(), 13 + 1);
}

/// The Kaggle train.txt has no header and TAB separators; compressed with zstd it reads
/// as the sample with a header does.
#[test]
fn criteo_kaggle_file_without_header_reads_as_the_sample_also_zstd_compressed() {
    let Some(shared) = shared_data() else { return };
    let (sample, _) = load_shipped("criteo", &shared);
    let text = std::fs::read_to_string(shared.join("criteo-samples/deepctr_criteo_sample.txt")).unwrap();
    let tsv: String = text.lines().skip(1).map(|line| line.replace(',', "\t") + "\n").collect();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("train.txt"), zstd::encode_all(tsv.as_bytes(), 3).unwrap()).unwrap();
    let descriptor = shipped_text("criteo-kaggle").replace("${APG_BENCH_DATA}/criteo", tmp.path().to_str().unwrap());
    let (kaggle, _) = load(&tmp.path().join("criteo-kaggle.toml"), &descriptor, tmp.path().to_path_buf());
    assert_eq!(kaggle.labels, sample.labels);
    assert_eq!(kaggle.split, sample.split);
    assert_eq!(kaggle.fields, sample.fields);
}

#[test]
fn avazu_hour_is_a_time_with_its_hour_and_weekday() {
    let Some(shared) = shared_data() else { return };
    let (dataset, report) = load_shipped("avazu", &shared);
    assert_eq!((dataset.rows(), clicks(&dataset)), (100, 20));
    // 14102100 is 2014-10-21 00:00, a Tuesday.
    assert_eq!(dataset.field("hour_of_day").unwrap().info.vocab, vec!["<oov>", "0"]);
    assert_eq!(dataset.field("weekday").unwrap().info.vocab, vec!["<oov>", "Tue"]);
    assert_eq!(dataset.field("C20").unwrap().info.missing_rows, 55);
    // Every row of the sample is in the same hour: the split says it is the file order.
    assert_eq!(sizes(&dataset), (80, 10, 10));
    assert_eq!(dataset.split.test, (90..100).collect::<Vec<u32>>());
    assert_eq!(
        report.warnings,
        vec![
            "split.column `hour`: all 100 rows have the same time (2014-10-21 00:00:00), so the time split is the file order"
        ]
    );
}

#[test]
fn taobao_ad_splits_on_its_datetime_strings() {
    let Some(shared) = shared_data() else { return };
    let (dataset, report) = load_shipped("taobao-ad", &shared);
    assert_eq!((dataset.rows(), clicks(&dataset)), (100, 4));
    // 28 rows at 00:00:00, 33 at :01, 39 at :02, in file order: the cuts at 80 and 90
    // fall among the :02 rows.
    assert_eq!(dataset.split.valid, (80..90).collect::<Vec<u32>>());
    assert_eq!(dataset.split.test, (90..100).collect::<Vec<u32>>());
    assert_eq!(
        report.warnings,
        vec![
            "split.column `time_stamp`: 39 rows at 2017-05-06 00:00:02 fall between training and validation, and 39 \
             rows at 2017-05-06 00:00:02 fall between validation and test; which side each falls on follows the file \
             order"
        ]
    );
    // 2017-05-06 was a Saturday.
    assert_eq!(dataset.field("weekday").unwrap().info.vocab, vec!["<oov>", "Sat"]);
    assert_eq!(dataset.field("hour").unwrap().info.vocab, vec!["<oov>", "0"]);
    assert_eq!(dataset.field("gender").unwrap().info.missing_rows, 8);
    assert_eq!(values(&dataset, "click_sequence", 0), vec!["170301", "573514"]);
}

#[test]
fn kuairand_missing_marker_is_missing() {
    let Some(shared) = shared_data() else { return };
    let (dataset, _) = load_shipped("kuairand", &shared);
    assert_eq!((dataset.rows(), clicks(&dataset)), (200, 32));
    assert_eq!(sizes(&dataset), (160, 20, 20));
    let streamer = dataset.field("is_live_streamer").unwrap();
    assert_eq!(streamer.info.missing_rows, 142);
    assert!(!streamer.info.vocab.iter().any(|v| v == "-124"), "{:?}", streamer.info.vocab);
    // Row 2 has -124: the missing value, not an ordinary one.
    assert_eq!(value(&dataset, "is_live_streamer", 1), "<missing>");
    assert_eq!(value(&dataset, "is_live_streamer", 0), "1");
}

#[test]
fn movielens_1m_samples_globbed_and_split_by_timestamp() {
    let Some(shared) = shared_data() else { return };
    let (dataset, _) = load_shipped("movielens-1m", &shared);
    // DeepCTR's 200 rows, then torch-rechub's 100 (names in order).
    assert_eq!((dataset.rows(), clicks(&dataset)), (300, 186));
    assert_eq!(sizes(&dataset), (240, 30, 30));
    assert_eq!(&dataset.split.test[..5], &[15, 28, 33, 52, 54]);
    // Row 1: user 3299, zip 19119, rated at 2000-09-04 02:42:25 UTC, a Monday.
    assert_eq!(value(&dataset, "user", 0), "3299");
    assert_eq!(value(&dataset, "zip_prefix", 0), "191");
    assert_eq!(value(&dataset, "weekday", 0), "Mon");
    assert_eq!(value(&dataset, "hour", 0), "2");
    assert_eq!(values(&dataset, "genres", 0), vec!["Comedy", "Drama"]);
}

#[test]
fn movielens_1m_merged_genre_columns_are_one_field() {
    let Some(shared) = shared_data() else { return };
    let (dataset, _) = load_shipped("movielens-1m-merged", &shared);
    assert_eq!((dataset.rows(), clicks(&dataset)), (19_999, 11_420));
    assert_eq!(sizes(&dataset), (15_999, 2_000, 2_000));
    // Row 1: crime, drama, missing.
    assert_eq!(values(&dataset, "genres", 0), vec!["crime", "drama"]);
    let genres = &dataset.field("genres").unwrap().info.vocab;
    assert_eq!(genres.len(), 18 + 1);
    assert!(!genres.iter().any(|g| g == "missing"));
    assert_eq!(value(&dataset, "weekday", 0), "Fri");
}

/// ML-1M's ratings.dat: `::` between the values, no header. torch-rechub's sample holds
/// its first 100 lines.
#[test]
fn movielens_1m_ratings_dat_with_double_colons() {
    let Some(shared) = shared_data() else { return };
    let text = std::fs::read_to_string(shared.join("ml-1m-samples/torchrechub_ml-1m_sample.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let dat: String = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            format!("{}::{}::{}::{}\n", &r[0], &r[1], &r[2], &r[3])
        })
        .collect();
    assert!(dat.starts_with("1::1193::5::978300760\n"));
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("ratings.dat"), dat).unwrap();
    let descriptor =
        shipped_text("movielens-1m-ratings").replace("${APG_BENCH_DATA}/ml-1m", tmp.path().to_str().unwrap());
    let (dataset, _) = load(&tmp.path().join("d.toml"), &descriptor, tmp.path().to_path_buf());
    assert_eq!((dataset.rows(), clicks(&dataset)), (100, 73));
    assert_eq!(value(&dataset, "item", 0), "1193");
    assert_eq!(sizes(&dataset), (80, 10, 10));
}

/// The MIND fixture: 8 impressions showing 30 news, 8 clicked. Sorted by time the
/// impressions are 4 (4 news), 1 (2), 5 (3), 2 (5), 8 (4), 7 (2), 3 (7), 6 (3): the last
/// 3 rows (impression 6, rows 21-23) test, the 3 before them (the last 3 news of
/// impression 3, rows 11-13) validate.
#[test]
fn mind_impressions_explode_into_rows() {
    let text = shipped_text("mind");
    let (dataset, report) = load(Path::new("datasets/mind.toml"), &text, PathBuf::from("tests/fixtures"));
    assert_eq!((dataset.rows(), clicks(&dataset)), (30, 8));
    assert_eq!(dataset.split.test, vec![21, 22, 23]);
    assert_eq!(dataset.split.valid, vec![11, 12, 13]);
    assert_eq!(sizes(&dataset), (24, 3, 3));
    // N20678 is shown once in training (then in impression 6): below min_count 2.
    let news: Vec<String> = (0..3).map(|row| value(&dataset, "news", row)).collect();
    assert_eq!(news, ["N55689", "N35729", "<oov>"]);
    assert_eq!(&dataset.labels[..3], &[1, 0, 0]);
    // 9:05:58 AM, and 12:01:02 AM (hour 0) on 11/13/2019, a Wednesday.
    assert_eq!(value(&dataset, "hour", 0), "9");
    assert_eq!(value(&dataset, "hour", 26), "0");
    assert_eq!(value(&dataset, "weekday", 26), "Wed");
    // Impression 6 is the only one on a Friday and at noon: unseen in training.
    assert_eq!(value(&dataset, "weekday", 21), "<oov>");
    // Impression 5 (rows 18-20) has no history.
    assert!(values(&dataset, "history", 18).is_empty());
    assert_eq!(dataset.field("history").unwrap().info.missing_rows, 3);
    assert_eq!(
        report.warnings,
        vec![
            "split.column `time`: 7 rows at 2019-11-14 07:01:48 fall between training and validation; which side \
             each falls on follows the file order"
        ]
    );
}

/// The same rows as CSV and as Parquet (two row groups, a null, a list column) encode
/// to the same dataset.
#[test]
fn parquet_reads_as_the_same_rows_in_csv() {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    let users = ["u1", "u2", "u1", "u3", "u2", "u1", "u4", "u2", "u3", "u1"];
    let times: Vec<i64> = (0..10).map(|i| 1_500_000_000 + 3600 * ((i * 7) % 10)).collect();
    let prices = [Some(1.5), None, Some(3.0), Some(0.25), Some(9.0), None, Some(2.0), Some(4.5), Some(3.0), Some(1.0)];
    let clicks = [1, 0, 0, 1, 0, 1, 0, 0, 1, 0];
    let tags = ["a|b", "b", "", "a", "c|a", "b", "a", "", "c", "a|b|c"];
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("user,time,price,clicked,tags\n");
    for i in 0..10 {
        let price = prices[i].map_or(String::new(), |p: f64| p.to_string());
        csv.push_str(&format!("{},{},{price},{},{}\n", users[i], times[i], clicks[i], tags[i]));
    }
    std::fs::write(tmp.path().join("rows.csv"), csv).unwrap();

    let schema = parse_message_type(
        "message rows { REQUIRED BINARY user (UTF8); REQUIRED INT64 time; OPTIONAL DOUBLE price; \
         REQUIRED INT32 clicked; REQUIRED BINARY tags (UTF8); }",
    )
    .unwrap();
    let file = std::fs::File::create(tmp.path().join("rows.parquet")).unwrap();
    let mut writer =
        SerializedFileWriter::new(file, Arc::new(schema), Arc::new(WriterProperties::builder().build())).unwrap();
    for rows in [0..6, 6..10] {
        let mut group = writer.next_row_group().unwrap();
        let bytes = |v: &[&str]| v.iter().map(|s| ByteArray::from(*s)).collect::<Vec<_>>();
        let mut column = group.next_column().unwrap().unwrap();
        column.typed::<ByteArrayType>().write_batch(&bytes(&users[rows.clone()]), None, None).unwrap();
        column.close().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        column.typed::<Int64Type>().write_batch(&times[rows.clone()], None, None).unwrap();
        column.close().unwrap();
        let present: Vec<f64> = prices[rows.clone()].iter().flatten().copied().collect();
        let levels: Vec<i16> = prices[rows.clone()].iter().map(|p| p.is_some() as i16).collect();
        let mut column = group.next_column().unwrap().unwrap();
        column.typed::<DoubleType>().write_batch(&present, Some(&levels), None).unwrap();
        column.close().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        column.typed::<Int32Type>().write_batch(&clicks[rows.clone()], None, None).unwrap();
        column.close().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        column.typed::<ByteArrayType>().write_batch(&bytes(&tags[rows.clone()]), None, None).unwrap();
        column.close().unwrap();
        group.close().unwrap();
    }
    writer.close().unwrap();

    let descriptor = |format: &str, path: &str| {
        format!(
            "name = \"rows\"\n[source]\nformat = \"{format}\"\ndir = [\".\"]\npath = \"{path}\"\n[label]\ncolumn = \
             \"clicked\"\n[[fields]]\nname = \"user\"\nkind = \"categorical\"\n[[fields]]\nname = \"price\"\nkind = \
             \"numeric\"\nbins = 3\n[[fields]]\nname = \"tags\"\nkind = \"multi_categorical\"\n[[fields]]\nname = \
             \"hour\"\nkind = \"categorical\"\ncolumn = \"time\"\ntime_format = \"epoch_s\"\ntime_part = \"hour\"\n\
             [split]\nkind = \"time\"\ncolumn = \"time\"\nratios = [0.6, 0.2, 0.2]\n"
        )
    };
    let (from_csv, _) = try_load(tmp.path(), &descriptor("csv", "rows.csv")).unwrap();
    let (from_parquet, _) = try_load(tmp.path(), &descriptor("parquet", "rows.parquet")).unwrap();
    assert_eq!(from_parquet.labels, from_csv.labels);
    assert_eq!(from_parquet.split, from_csv.split);
    assert_eq!(from_parquet.fields, from_csv.fields);
    assert_eq!(from_parquet.field("price").unwrap().info.missing_rows, 2);
    assert_eq!(values(&from_parquet, "tags", 9), vec!["a", "b", "c"]);
    // 1,500,000,000 s is 2017-07-14 02:40 UTC; row 4 is an hour later.
    assert_eq!(value(&from_parquet, "hour", 0), "2");
    assert_eq!(value(&from_parquet, "hour", 3), "3");
}

const CLICKS: &str =
    "name = \"clicks\"\n[source]\nformat = \"csv\"\ndir = [\".\"]\npath = \"*.csv\"\n[label]\ncolumn = \"click\"\n";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn a_glob_reads_every_match_in_name_order_and_the_cache_sees_a_new_file() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "b.csv", "user,click\nu3,1\n");
    write(tmp.path(), "a.csv", "user,click\nu1,0\nu2,1\n");
    let text = format!(
        "{CLICKS}[[fields]]\nname = \"user\"\nkind = \"categorical\"\n[split]\nkind = \"ordered\"\nratios = [1.0, 0.0, 0.0]\n"
    );
    let (first, report) = try_load(tmp.path(), &text).unwrap();
    assert!(!report.from_cache);
    assert_eq!((0..3).map(|r| value(&first, "user", r)).collect::<Vec<_>>(), ["u1", "u2", "u3"]);
    let (_, report) = try_load(tmp.path(), &text).unwrap();
    assert!(report.from_cache);
    write(tmp.path(), "c.csv", "user,click\nu4,0\n");
    let (second, report) = try_load(tmp.path(), &text).unwrap();
    assert!(!report.from_cache, "{:?}", report.cache_note);
    assert_eq!(second.rows(), 4);
    // A new key of the descriptor is a new fingerprint too.
    let marked = text.replace("kind = \"categorical\"\n", "kind = \"categorical\"\nmissing = [\"u4\"]\n");
    let (third, report) = try_load(tmp.path(), &marked).unwrap();
    assert!(!report.from_cache, "{:?}", report.cache_note);
    assert_eq!(value(&third, "user", 3), "<missing>");
    let nothing = text.replace("path = \"*.csv\"", "path = \"*.tsv\"");
    let error = try_load(tmp.path(), &nothing).unwrap_err();
    assert_eq!(
        error,
        format!(
            "{}/./*.tsv: no file matches this pattern (needed by source.path in {}/dataset.toml)",
            tmp.path().display(),
            tmp.path().display()
        )
    );
}

#[test]
fn missing_markers_numeric_edges_and_substrings() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "x.csv", "click,age,zip\n1,17,55408\n0,NaN,10001\n1,25,9\n0,40,NA\n");
    let fields = "[[fields]]\nname = \"age\"\nkind = \"numeric\"\nedges = [18, 30]\nlabels = [\"young\", \"mid\", \"old\"]\n\
                  [[fields]]\nname = \"zip3\"\nkind = \"categorical\"\ncolumn = \"zip\"\nprefix = 3\nmissing = [\"NA\"]\n\
                  [split]\nkind = \"ordered\"\nratios = [1.0, 0.0, 0.0]\n";
    // NaN without a marker is an error naming the row and column.
    let error = try_load(tmp.path(), &format!("{CLICKS}{fields}")).unwrap_err();
    assert_eq!(error, format!("{}/./x.csv:3: column `age`: \"NaN\" is not a number", tmp.path().display()));
    let fields = fields.replace("labels =", "missing = [\"NaN\"]\nlabels =");
    let (dataset, _) = try_load(tmp.path(), &format!("{CLICKS}{fields}")).unwrap();
    let ages: Vec<String> = (0..4).map(|r| value(&dataset, "age", r)).collect();
    assert_eq!(ages, ["young", "<missing>", "mid", "old"]);
    let zips: Vec<String> = (0..4).map(|r| value(&dataset, "zip3", r)).collect();
    assert_eq!(zips, ["554", "100", "9", "<missing>"]);
    assert_eq!(dataset.field("zip3").unwrap().info.missing_rows, 1);
}

#[test]
fn times_that_do_not_parse_are_errors_naming_row_column_value_and_format() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "x.csv", "click,day\n1,2007-07-10\n0,2007-13-45\n");
    let split = "[[fields]]\nname = \"d\"\nkind = \"categorical\"\ncolumn = \"day\"\n[split]\nkind = \"time\"\ncolumn = \"day\"\n";
    let error = try_load(tmp.path(), &format!("{CLICKS}{split}")).unwrap_err();
    assert_eq!(
        error,
        format!(
            "{}/./x.csv:2: column `day`: \"2007-07-10\" is not a number: a time split sorts numbers (e.g. epoch \
             seconds); for times written as text give split.time_format (e.g. \"%Y-%m-%d %H:%M:%S\")",
            tmp.path().display()
        )
    );
    let error = try_load(tmp.path(), &format!("{CLICKS}{split}time_format = \"%Y-%m-%d\"\n")).unwrap_err();
    assert_eq!(
        error,
        format!(
            "{}/./x.csv:3: column `day`: \"2007-13-45\" does not match time_format \"%Y-%m-%d\" (needed by \
             split.column)",
            tmp.path().display()
        )
    );
}

#[test]
fn a_field_time_that_does_not_parse_says_how_to_mark_it_missing() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "x.csv", "click,day\n1,2007-07-10\n0,unknown\n");
    let field = "[[fields]]\nname = \"weekday\"\nkind = \"categorical\"\ncolumn = \"day\"\ntime_format = \"%Y-%m-%d\"\n\
                 time_part = \"weekday\"\n";
    let error = try_load(tmp.path(), &format!("{CLICKS}{field}")).unwrap_err();
    assert_eq!(
        error,
        format!(
            "{}/./x.csv:3: column `day`: \"unknown\" does not match time_format \"%Y-%m-%d\" (needed by fields[0] \
             (weekday)); if it marks a missing time, list it in `missing`",
            tmp.path().display()
        )
    );
    let (dataset, _) = try_load(tmp.path(), &format!("{CLICKS}{field}missing = [\"unknown\"]\n")).unwrap();
    // 2007-07-10 was a Tuesday.
    assert_eq!([value(&dataset, "weekday", 0), value(&dataset, "weekday", 1)], ["Tue", "<missing>"]);
}

#[test]
fn bad_new_keys_are_errors_at_their_place() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("dataset.toml");
    let error = |text: &str| {
        std::fs::write(&file, text).unwrap();
        LoadedDescriptor::from_file(&file).unwrap_err().to_string().replace(&tmp.path().display().to_string(), "")
    };
    let field = "[[fields]]\nname = \"d\"\nkind = \"categorical\"\n";
    assert_eq!(
        error(&format!("{CLICKS}{field}time_part = \"hour\"\n")),
        "/dataset.toml:11:1: fields[0].time_part: time_part needs time_format, how the column holds the time"
    );
    assert_eq!(
        error(&format!("{CLICKS}{field}time_format = \"%Q\"\n")),
        "/dataset.toml:11:1: fields[0].time_format: \"%Q\" is not a valid strftime pattern (e.g. \"%Y-%m-%d \
         %H:%M:%S\")"
    );
    assert_eq!(
        error(&format!(
            "{CLICKS}[[fields]]\nname = \"n\"\nkind = \"numeric\"\ntime_format = \"epoch_s\"\ntime_part = \"weekday\"\n"
        )),
        "/dataset.toml:12:1: fields[0].time_part: time_part \"weekday\" is text, not a number: use it in a \
         categorical field"
    );
    assert_eq!(
        error(&format!(
            "{}header = false\n[label]\ncolumn = \"click\"\n{field}",
            CLICKS.split("[label]").next().unwrap()
        )),
        "/dataset.toml:6:1: source.header: a csv file without a header row needs `columns` naming its columns, in order"
    );
    assert_eq!(
        error(&format!("{CLICKS}[[fields]]\nname = \"g\"\nkind = \"categorical\"\ncolumns = [\"a\", \"b\"]\n")),
        "/dataset.toml:11:1: fields[0].columns: columns (several source columns as one field) apply to \
         multi_categorical fields only"
    );
    assert_eq!(
        error(&format!(
            "{}[source.explode]\ncolumn = \"x\"\ninto = [\"a\", \"b\"]\n[label]\ncolumn = \"click\"\n{field}",
            CLICKS.split("[label]").next().unwrap()
        )),
        "/dataset.toml:8:1: source.explode.into: into names 2 columns: give part_separator, the text between an \
         item's parts (\"-\" in N123-1)"
    );
}
