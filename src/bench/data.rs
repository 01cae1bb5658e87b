//! The `data` section: ml-100k load + encode cold (no cache) and from the cache, the
//! rows/s, peak memory and cache load of a generated 2,000,000-row CSV (200,000 rows with
//! `--quick`), and the same of a Criteo-shaped CSV (`--criteo-rows`, 2,000,000 by
//! default) with training from the memory-mapped cache against training from a copy in
//! memory. Every load runs in a fresh child process (`bench-child load`), so that its
//! peak RSS is its own; times are measured inside the child around `data::load`.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use dfdx::prelude::*;

use crate::bench::child::{LoadFigures, run_child};
use crate::bench::{Figure, Options, Sink, median};
use crate::config::experiment::LoadedExperiment;
use crate::data::descriptor::BUILT_IN;
use crate::data::{self, EncodedDataset, LoadOptions, LoadedDescriptor};
use crate::model::Model;
use crate::train::order::EpochOrder;
use crate::train::run::{StepSettings, train_step};

const SECTION: &str = "data";
const CSV_ROWS: usize = 2_000_000;
const CSV_ROWS_QUICK: usize = 200_000;

/// The generated CSV's descriptor: 9 columns, two categorical fields with min_count, a
/// numeric and a multi-categorical one, and a derived activity field.
pub const CSV_DESCRIPTOR: &str = r#"
name = "bench-csv"
[source]
format = "csv"
dir = ["."]
path = "bench.csv"
[label]
column = "click"
[[fields]]
name = "user"
kind = "categorical"
min_count = 2
[[fields]]
name = "item"
kind = "categorical"
min_count = 2
[[fields]]
name = "category"
kind = "categorical"
[[fields]]
name = "domain"
kind = "categorical"
[[fields]]
name = "device"
kind = "categorical"
[[fields]]
name = "hour"
kind = "categorical"
[[fields]]
name = "price"
kind = "numeric"
[[fields]]
name = "tags"
kind = "multi_categorical"
[[derived]]
name = "user_activity"
kind = "activity"
column = "user"
"#;

pub fn run(options: &Options, sink: &mut Sink) -> anyhow::Result<()> {
    let folder = options.scratch.join("data");
    // Caches of earlier calls would turn the first "cold" load into a cached one.
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let result = movielens(options, sink, &folder)
        .and_then(|()| csv(options, sink, &folder))
        .and_then(|()| criteo(options, sink, &folder));
    let _ = std::fs::remove_dir_all(&folder);
    result
}

fn load(options: &Options, descriptor: &Path, cache: &Path, no_cache: bool) -> anyhow::Result<LoadFigures> {
    let mut args: Vec<OsString> = vec!["load".into(), descriptor.into(), cache.into()];
    if no_cache {
        args.push("--no-cache".into());
    }
    run_child(&args, options.threads)
}

fn ms(seconds: &[f64]) -> Vec<f64> {
    seconds.iter().map(|s| s * 1e3).collect()
}

fn movielens(options: &Options, sink: &mut Sink, folder: &Path) -> anyhow::Result<()> {
    let Some(shared) = &options.data_dir else {
        sink.skip(SECTION, "ml-100k", "APG_BENCH_DATA is not set (or --data-dir)");
        return Ok(());
    };
    let shared = std::path::absolute(shared).unwrap_or_else(|_| shared.clone());
    if !shared.join("ml-100k").join("u.data").is_file() {
        sink.skip(SECTION, "ml-100k", format!("{} has no ml-100k/u.data", shared.display()));
        return Ok(());
    }
    let text = BUILT_IN
        .iter()
        .find(|(name, _)| *name == "movielens-100k")
        .context("the built-in movielens-100k descriptor is missing")?
        .1
        .replace("${APG_BENCH_DATA}", &shared.display().to_string());
    let descriptor = folder.join("ml100k.toml");
    std::fs::write(&descriptor, text)?;
    let cache = folder.join("cache");
    let reps = options.reps();

    let (cold, cached) = cold_and_cached(options, &descriptor, &cache, "ml-100k")?;

    let cold_s: Vec<f64> = cold.iter().map(|c| c.seconds).collect();
    let cached_s: Vec<f64> = cached.iter().map(|c| c.seconds).collect();
    let rows = cold[0].rows;
    sink.push(
        Figure::new(
            SECTION,
            "data.ml-100k.cold",
            "ml-100k load + encode, cold (no cache)",
            median(&cold_s) * 1e3,
            "ms",
        )
        .note(format!(
            "{rows} rows, fresh process, median of {reps}; encoded {:.1} MB; target < 300 ms",
            cold[0].encoded_mb
        ))
        .samples(ms(&cold_s)),
    );
    sink.push(
        Figure::new(SECTION, "data.ml-100k.cached", "ml-100k load from the cache", median(&cached_s) * 1e3, "ms")
            .note(format!("fresh process, median of {reps}; target < 30 ms"))
            .samples(ms(&cached_s)),
    );
    let peaks: Vec<f64> = cold.iter().map(|c| c.peak_rss_mb).collect();
    sink.push(
        Figure::new(
            SECTION,
            "data.ml-100k.peak-rss",
            "ml-100k cold load, peak RSS of the process",
            median(&peaks),
            "MB",
        )
        .note(format!("median of {reps}"))
        .samples(peaks),
    );
    let cached_peaks: Vec<f64> = cached.iter().map(|c| c.peak_rss_mb).collect();
    sink.push(
        Figure::new(
            SECTION,
            "data.ml-100k.cached-peak-rss",
            "ml-100k load from the cache, peak RSS",
            median(&cached_peaks),
            "MB",
        )
        .note(format!("median of {reps}"))
        .samples(cached_peaks),
    );
    Ok(())
}

/// `reps` cold loads (no cache), one load that writes the cache, then `reps` loads from
/// it, each in a fresh process.
fn cold_and_cached(
    options: &Options,
    descriptor: &Path,
    cache: &Path,
    what: &str,
) -> anyhow::Result<(Vec<LoadFigures>, Vec<LoadFigures>)> {
    let reps = options.reps();
    let cold: Vec<LoadFigures> =
        (0..reps).map(|_| load(options, descriptor, cache, true)).collect::<anyhow::Result<_>>()?;
    load(options, descriptor, cache, false)?;
    let cached: Vec<LoadFigures> =
        (0..reps).map(|_| load(options, descriptor, cache, false)).collect::<anyhow::Result<_>>()?;
    if let Some(miss) = cached.iter().find(|c| !c.from_cache) {
        anyhow::bail!("{what}: a load after the cache was written did not use it ({miss:?})");
    }
    Ok((cold, cached))
}

fn csv(options: &Options, sink: &mut Sink, folder: &Path) -> anyhow::Result<()> {
    let rows = if options.quick { CSV_ROWS_QUICK } else { CSV_ROWS };
    let csv = folder.join("bench.csv");
    write_csv(&csv, rows).with_context(|| format!("cannot write {}", csv.display()))?;
    let size_mb = std::fs::metadata(&csv)?.len() as f64 / 1e6;
    let descriptor = folder.join("bench.toml");
    std::fs::write(&descriptor, CSV_DESCRIPTOR)?;
    let cache: PathBuf = folder.join("cache");
    let reps = options.reps();

    let (cold, cached) = cold_and_cached(options, &descriptor, &cache, "bench CSV")?;
    let _ = std::fs::remove_file(&csv);
    let _ = std::fs::remove_dir_all(&cache);

    let seconds: Vec<f64> = cold.iter().map(|c| c.seconds).collect();
    let rates: Vec<f64> = seconds.iter().map(|s| rows as f64 / s).collect();
    let what = if options.quick { "200,000-row CSV (--quick)" } else { "2,000,000-row CSV" };
    sink.push(
        Figure::new(
            SECTION,
            "data.csv-2m.rows-per-s",
            format!("{what}: load + encode, cold"),
            median(&rates),
            "rows/s",
        )
        .note(format!(
            "{size_mb:.0} MB, 9 columns; fresh process, median of {reps}: {:.0} ms a load; target > 1M rows/s",
            median(&seconds) * 1e3
        ))
        .samples(rates),
    );
    let peaks: Vec<f64> = cold.iter().map(|c| c.peak_rss_mb).collect();
    sink.push(
        Figure::new(SECTION, "data.csv-2m.peak-rss", format!("{what}: peak RSS of a cold load"), median(&peaks), "MB")
            .note(format!("median of {reps}; aim: near the encoded size ({:.0} MB)", cold[0].encoded_mb))
            .samples(peaks),
    );
    sink.push(
        Figure::new(
            SECTION,
            "data.csv-2m.encoded",
            format!("{what}: encoded columns + labels + split"),
            cold[0].encoded_mb,
            "MB",
        )
        .note(format!("{} rows", cold[0].rows)),
    );
    let cached_s: Vec<f64> = cached.iter().map(|c| c.seconds).collect();
    let cached_peaks: Vec<f64> = cached.iter().map(|c| c.peak_rss_mb).collect();
    sink.push(
        Figure::new(
            SECTION,
            "data.csv-2m.cached",
            format!("{what}: load from the cache"),
            median(&cached_s) * 1e3,
            "ms",
        )
        .note(format!("fresh process, median of {reps}"))
        .samples(ms(&cached_s)),
    );
    sink.push(
        Figure::new(
            SECTION,
            "data.csv-2m.cached-peak-rss",
            format!("{what}: peak RSS of a load from the cache"),
            median(&cached_peaks),
            "MB",
        )
        .note(format!("median of {reps}"))
        .samples(cached_peaks),
    );
    Ok(())
}

/// Writes `rows` rows of a deterministic click log (user, item, category, domain, device,
/// hour, price, tags, click) with skewed users and a tag list per row.
pub fn write_csv(path: &Path, rows: usize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "user,item,category,domain,device,hour,price,tags,click")?;
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let tags = ["news", "sport", "music", "tech", "food", "travel"];
    for _ in 0..rows {
        let r = next();
        let user = (r % 100_000) * (r >> 40) % 100_000;
        let item = (r >> 17) % 50_000;
        let tag_a = tags[(r >> 33) as usize % 6];
        let tag_b = tags[(r >> 37) as usize % 6];
        writeln!(
            out,
            "u{user},i{item},c{},d{},dev{},{},{}.{:02},{tag_a}|{tag_b},{}",
            item % 40,
            (r >> 50) % 8,
            (r >> 45) % 4,
            (r >> 20) % 24,
            (r >> 24) % 200,
            (r >> 28) % 100,
            (r >> 60) % 2
        )?;
    }
    out.flush()
}

/// Numeric and categorical columns of the Criteo-shaped CSV (as in Criteo's display
/// advertising log: a label, I1..I13, C1..C26).
const CRITEO_NUMERIC: usize = 13;
const CRITEO_CATEGORICAL: usize = 26;
/// The largest cardinality of a categorical column; the others shrink geometrically
/// down to 4 values.
const CRITEO_MAX_VALUES: f64 = 1_000_000.0;
/// Share of empty numeric cells.
const CRITEO_MISSING: f64 = 0.2;
const CRITEO_ROWS_QUICK: usize = 200_000;
/// Training steps per repetition of the mapped-versus-memory comparison.
const COMPARE_STEPS: usize = 60;
const COMPARE_STEPS_QUICK: usize = 15;

/// The descriptor of the Criteo-shaped data in `file` read as `format` (the one place a
/// Parquet copy of the same data would plug in).
fn criteo_descriptor(file: &str, format: &str) -> String {
    let mut text = format!(
        "name = \"bench-criteo\"\n[source]\nformat = \"{format}\"\ndir = [\".\"]\npath = \"{file}\"\n\
         [label]\ncolumn = \"label\"\n[split]\nratios = [0.9, 0.05, 0.05]\n"
    );
    for i in 1..=CRITEO_NUMERIC {
        text += &format!("[[fields]]\nname = \"I{i}\"\nkind = \"numeric\"\n");
    }
    for c in 1..=CRITEO_CATEGORICAL {
        text += &format!("[[fields]]\nname = \"C{c}\"\nkind = \"categorical\"\nmin_count = 2\n");
    }
    text
}

/// Cardinality of categorical column `c` (0-based): from 1,000,000 down to 4.
fn criteo_cardinality(c: usize) -> f64 {
    let step = (CRITEO_MAX_VALUES / 4.0).ln() / (CRITEO_CATEGORICAL - 1) as f64;
    (CRITEO_MAX_VALUES.ln() - step * c as f64).exp().round()
}

/// Writes `rows` rows shaped like Criteo's log: a 0/1 label (about 25 % clicks), 13
/// counts with 20 % missing, and 26 categorical columns of 8 hex digits whose values
/// follow Zipf's law (value k has probability about 1/k) over cardinalities from
/// 1,000,000 down to 4. Deterministic.
pub fn write_criteo_csv(path: &Path, rows: usize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut header = vec!["label".to_string()];
    header.extend((1..=CRITEO_NUMERIC).map(|i| format!("I{i}")));
    header.extend((1..=CRITEO_CATEGORICAL).map(|c| format!("C{c}")));
    writeln!(out, "{}", header.join(","))?;
    let cardinalities: Vec<f64> = (0..CRITEO_CATEGORICAL).map(criteo_cardinality).collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let uniform = |r: u64| (r >> 11) as f64 / (1u64 << 53) as f64;
    let mut line = String::with_capacity(512);
    for _ in 0..rows {
        line.clear();
        line.push(if uniform(next()) < 0.25 { '1' } else { '0' });
        for _ in 0..CRITEO_NUMERIC {
            line.push(',');
            let r = next();
            if uniform(r) >= CRITEO_MISSING {
                // Counts with a long tail, as Criteo's are.
                let count = (1000f64.powf(uniform(next())) - 1.0) as u64;
                line.push_str(&count.to_string());
            }
        }
        for (c, &cardinality) in cardinalities.iter().enumerate() {
            // cardinality^u for uniform u is log-uniform: value k has probability ~1/k.
            let k = (cardinality.powf(uniform(next())) as u64).min(cardinality as u64) - 1;
            let hashed = (k.wrapping_add(c as u64 * 0x9E37_79B9)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
            line.push(',');
            line.push_str(&format!("{hashed:08x}"));
        }
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// The experiment trained on the Criteo-shaped data: a DNN over every field.
const CRITEO_EXPERIMENT: &str = r#"dataset = "criteo.toml"
[model]
base = "dnn"
hidden = [128, 64]
embedding_dim = 8
[train]
batch_size = 1024
lr = 0.001
embedding_optimizer = "lazy_adam"
"#;

fn criteo(options: &Options, sink: &mut Sink, folder: &Path) -> anyhow::Result<()> {
    let rows = options.criteo_rows.unwrap_or(if options.quick { CRITEO_ROWS_QUICK } else { CSV_ROWS });
    let csv = folder.join("criteo.csv");
    write_criteo_csv(&csv, rows).with_context(|| format!("cannot write {}", csv.display()))?;
    let size_mb = std::fs::metadata(&csv)?.len() as f64 / 1e6;
    let descriptor = folder.join("criteo.toml");
    std::fs::write(&descriptor, criteo_descriptor("criteo.csv", "csv"))?;
    let cache = folder.join("cache-criteo");
    let what = format!("Criteo-shaped CSV, {rows} rows x 39 fields");

    // One cold load (it may take minutes at 20M rows), which writes the cache, then one
    // from the cache; each in a fresh process.
    let cold = load(options, &descriptor, &cache, false)?;
    let cached = load(options, &descriptor, &cache, false)?;
    anyhow::ensure!(!cold.from_cache && cached.from_cache, "the Criteo cache was not written or not used");
    let loaded = LoadedDescriptor::from_file(&descriptor).map_err(|e| anyhow::anyhow!("{e}"))?;
    let load_options = LoadOptions { cache_dir: Some(cache.clone()), no_cache: false };
    let (dataset, _) = data::load(&loaded, &load_options)?;
    parquet_vs_csv(options, sink, folder, &csv, rows, &what)?;
    let _ = std::fs::remove_file(&csv);
    let vocab_entries: usize = dataset.fields.iter().map(|f| f.info.vocab.len()).sum();
    let vocab_mb = dataset.fields.iter().flat_map(|f| &f.info.vocab).map(|v| v.len() + 24).sum::<usize>() as f64 / 1e6;

    sink.push(
        Figure::new(
            SECTION,
            "data.criteo.rows-per-s",
            format!("{what}: load + encode, cold"),
            rows as f64 / cold.seconds,
            "rows/s",
        )
        .note(format!(
            "{size_mb:.0} MB of CSV in {:.1} s with {} thread(s), fresh process; counting pass (columns spilled), then \
             encoding pass into the cache; target > 1M rows/s",
            cold.seconds, options.threads
        )),
    );
    sink.push(
        Figure::new(
            SECTION,
            "data.criteo.peak-rss",
            format!("{what}: peak RSS of the cold load"),
            cold.peak_rss_mb,
            "MB",
        )
        .note(format!(
            "aim: below encoded + vocabularies = {:.0} MB (not the {size_mb:.0} MB of CSV)",
            cold.encoded_mb + vocab_mb
        )),
    );
    sink.push(
        Figure::new(
            SECTION,
            "data.criteo.encoded",
            format!("{what}: encoded columns + labels + split"),
            cold.encoded_mb,
            "MB",
        )
        .note(format!("vocabularies: {vocab_entries} values, about {vocab_mb:.0} MB as strings")),
    );
    sink.push(
        Figure::new(
            SECTION,
            "data.criteo.cached",
            format!("{what}: load from the cache (mapped)"),
            cached.seconds * 1e3,
            "ms",
        )
        .note(format!("checksum and range checks over the mapped file; peak RSS {:.0} MB", cached.peak_rss_mb)),
    );
    let result = mapped_vs_memory(options, sink, folder, dataset, &what);
    let _ = std::fs::remove_dir_all(&cache);
    result
}

/// Rows a Parquet row group of the Criteo-shaped copy holds.
const PARQUET_GROUP_ROWS: usize = 100_000;

/// Cold loads of the same rows from Parquet and from CSV, in turns (CSV, Parquet, CSV
/// again, each in a fresh process into a cache folder of its own): Parquet's rows/s and
/// its ratio to the CSV loads' mean.
fn parquet_vs_csv(
    options: &Options,
    sink: &mut Sink,
    folder: &Path,
    csv: &Path,
    rows: usize,
    what: &str,
) -> anyhow::Result<()> {
    let parquet = folder.join("criteo.parquet");
    write_criteo_parquet(csv, &parquet).with_context(|| format!("cannot write {}", parquet.display()))?;
    let size_mb = std::fs::metadata(&parquet)?.len() as f64 / 1e6;
    let descriptors = [("csv", "criteo.csv"), ("parquet", "criteo.parquet")].map(|(format, file)| {
        let path = folder.join(format!("criteo-{format}.toml"));
        (path, criteo_descriptor(file, format))
    });
    for (path, text) in &descriptors {
        std::fs::write(path, text)?;
    }
    let mut seconds = [Vec::new(), Vec::new()];
    for (turn, which) in [0, 1, 0].into_iter().enumerate() {
        let cache = folder.join(format!("cache-turn-{turn}"));
        let figures = load(options, &descriptors[which].0, &cache, false)?;
        let _ = std::fs::remove_dir_all(&cache);
        seconds[which].push(figures.seconds);
    }
    let _ = std::fs::remove_file(&parquet);
    let csv_s = seconds[0].iter().sum::<f64>() / seconds[0].len() as f64;
    let parquet_s = seconds[1][0];
    sink.push(
        Figure::new(
            SECTION,
            "data.criteo.parquet-rows-per-s",
            format!("{what} as Parquet: load + encode, cold"),
            rows as f64 / parquet_s,
            "rows/s",
        )
        .note(format!(
            "{size_mb:.0} MB of Parquet (uncompressed, row groups of {PARQUET_GROUP_ROWS} rows) in {parquet_s:.1} s; the \
             same rows as CSV in {csv_s:.1} s (mean of the loads before and after): Parquet / CSV = {:.2}x",
            csv_s / parquet_s
        )),
    );
    Ok(())
}

/// Writes the Criteo-shaped CSV `csv` again as Parquet: the label as INT32, I1..I13 as
/// optional DOUBLEs (an empty cell is a null), C1..C26 as UTF8 strings, in row groups of
/// [`PARQUET_GROUP_ROWS`] rows, uncompressed.
pub fn write_criteo_parquet(csv: &Path, out: &Path) -> anyhow::Result<()> {
    use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    let mut schema = String::from("message criteo { REQUIRED INT32 label;");
    for i in 1..=CRITEO_NUMERIC {
        schema += &format!(" OPTIONAL DOUBLE I{i};");
    }
    for c in 1..=CRITEO_CATEGORICAL {
        schema += &format!(" REQUIRED BINARY C{c} (UTF8);");
    }
    schema += " }";
    let schema = Arc::new(parse_message_type(&schema)?);
    let file = std::fs::File::create(out)?;
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(WriterProperties::builder().build()))?;
    let mut reader = csv::Reader::from_path(csv)?;
    let mut records = reader.records();
    loop {
        let mut labels: Vec<i32> = Vec::with_capacity(PARQUET_GROUP_ROWS);
        let mut numbers: Vec<Vec<Option<f64>>> =
            (0..CRITEO_NUMERIC).map(|_| Vec::with_capacity(PARQUET_GROUP_ROWS)).collect();
        let mut strings: Vec<Vec<ByteArray>> =
            (0..CRITEO_CATEGORICAL).map(|_| Vec::with_capacity(PARQUET_GROUP_ROWS)).collect();
        for record in records.by_ref().take(PARQUET_GROUP_ROWS) {
            let record = record?;
            labels.push(record[0].parse()?);
            for (i, column) in numbers.iter_mut().enumerate() {
                let cell = &record[1 + i];
                column.push(if cell.is_empty() { None } else { Some(cell.parse()?) });
            }
            for (c, column) in strings.iter_mut().enumerate() {
                column.push(ByteArray::from(&record[1 + CRITEO_NUMERIC + c]));
            }
        }
        if labels.is_empty() {
            break;
        }
        let mut group = writer.next_row_group()?;
        let mut column = group.next_column()?.context("the label column")?;
        column.typed::<Int32Type>().write_batch(&labels, None, None)?;
        column.close()?;
        for values in &numbers {
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            let levels: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
            let mut column = group.next_column()?.context("a numeric column")?;
            column.typed::<DoubleType>().write_batch(&present, Some(&levels), None)?;
            column.close()?;
        }
        for values in &strings {
            let mut column = group.next_column()?.context("a categorical column")?;
            column.typed::<ByteArrayType>().write_batch(values, None, None)?;
            column.close()?;
        }
        group.close()?;
    }
    writer.close()?;
    Ok(())
}

/// Training samples/s from the mapped cache and from the same data copied into memory,
/// alternated; the copy is skipped when it would not fit in the memory available.
fn mapped_vs_memory(
    options: &Options,
    sink: &mut Sink,
    folder: &Path,
    mapped: EncodedDataset,
    what: &str,
) -> anyhow::Result<()> {
    let encoded_mb = crate::bench::child::encoded_bytes(&mapped) as f64 / 1e6;
    let available_mb = mem_available_mb();
    if available_mb.is_some_and(|a| encoded_mb * 2.0 > a) {
        sink.skip(
            SECTION,
            "data.criteo.train",
            format!("a {encoded_mb:.0} MB copy does not fit in {available_mb:?} MB available"),
        );
        return Ok(());
    }
    let experiment_file = folder.join("criteo-experiment.toml");
    std::fs::write(&experiment_file, CRITEO_EXPERIMENT)?;
    let experiment = LoadedExperiment::from_file(&experiment_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let anon_before = rss_anon_mb();
    let owned = mapped.clone().into_owned();
    let copy_mb = rss_anon_mb() - anon_before;
    let settings = StepSettings::from_spec(&experiment.experiment.train);
    let batch = experiment.experiment.train.batch_size;
    let steps = if options.quick { COMPARE_STEPS_QUICK } else { COMPARE_STEPS };
    let build = || Model::new(&experiment, &mapped, Cpu::seed_from_u64(1), 1).map_err(anyhow::Error::msg);
    let mut models = [build()?, build()?];
    let datasets = [&mapped, &owned];
    let mut rates = [Vec::new(), Vec::new()];
    // The same batches for both, from the epoch order training uses; repetition 0 warms up.
    for rep in 0..=options.reps() {
        let batches: Vec<Vec<u32>> =
            EpochOrder::new(&mapped.split.train, batch, true, rep as u64, 0).take(steps).collect();
        for (which, (model, dataset)) in models.iter_mut().zip(datasets).enumerate() {
            let start = std::time::Instant::now();
            for rows in &batches {
                train_step(model, dataset, rows, &settings).map_err(anyhow::Error::msg)?;
            }
            if rep > 0 {
                rates[which].push((steps * batch) as f64 / start.elapsed().as_secs_f64());
            }
        }
    }
    let (from_map, from_memory) = (median(&rates[0]), median(&rates[1]));
    sink.push(
        Figure::new(
            SECTION,
            "data.criteo.train-mapped",
            format!("{what}: training from the mapped cache"),
            from_map,
            "samples/s",
        )
        .note(format!(
            "DNN 128-64, embeddings of 8, batch {batch}, lazy Adam; {steps} steps a repetition, median of {}",
            options.reps()
        ))
        .samples(rates[0].clone()),
    );
    sink.push(
        Figure::new(
            SECTION,
            "data.criteo.train-memory",
            format!("{what}: training from a copy in memory"),
            from_memory,
            "samples/s",
        )
        .note(format!(
            "the same batches, alternated with the mapped run; the copy took {copy_mb:.0} MB of anonymous memory"
        ))
        .samples(rates[1].clone()),
    );
    sink.push(
        Figure::new(
            SECTION,
            "data.criteo.train-ratio",
            "training samples/s, mapped / in memory",
            from_map / from_memory,
            "x",
        )
        .note("target: within 5 % (0.95 to 1.05)"),
    );
    Ok(())
}

/// A line of /proc/self/status or /proc/meminfo in MB (Linux).
fn proc_mb(file: &str, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(file).ok()?;
    let kb: f64 = text.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn rss_anon_mb() -> f64 {
    proc_mb("/proc/self/status", "RssAnon:").unwrap_or(0.0)
}

fn mem_available_mb() -> Option<f64> {
    proc_mb("/proc/meminfo", "MemAvailable:")
}
