//! The `data` section: ml-100k load + encode cold (no cache) and from the cache, and the
//! rows/s, peak memory and cache load of a generated 2,000,000-row CSV (200,000 rows with
//! `--quick`). Every load runs in a fresh child process (`bench-child load`), so that its
//! peak RSS is its own; times are measured inside the child around `data::load`.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::bench::child::{LoadFigures, run_child};
use crate::bench::{Figure, Options, Sink, median};
use crate::data::descriptor::BUILT_IN;

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
    let result = movielens(options, sink, &folder).and_then(|()| csv(options, sink, &folder));
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
