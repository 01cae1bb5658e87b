//! Data-loading benchmark (release build): ml-100k load + encode cold and from the cache,
//! and rows/s and peak memory for a generated 2,000,000-row CSV.
//!
//! `cargo run --release --example load_bench` (set APG_BENCH_DATA for the ml-100k part).
//! Each measurement runs in a fresh child process so that peak RSS is its own; figures
//! are the median of several repetitions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use apg_bench::data::{self, Column, LoadOptions, LoadedDescriptor};

const CSV_ROWS: usize = 2_000_000;
const REPEATS: usize = 5;

const CSV_DESCRIPTOR: &str = r#"
name = "bench-2m"
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

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Child process: one load, printing `seconds peak_mb encoded_mb from_cache`.
fn child(descriptor: &Path, cache_dir: &Path, no_cache: bool) {
    let descriptor = LoadedDescriptor::from_file(descriptor).expect("descriptor");
    let options = LoadOptions { cache_dir: Some(cache_dir.to_path_buf()), no_cache };
    let start = Instant::now();
    let (dataset, report) = data::load(&descriptor, &options).expect("load");
    let seconds = start.elapsed().as_secs_f64();
    let encoded: usize = dataset
        .fields
        .iter()
        .map(|f| match &f.column {
            Column::Ids(v) => v.len() * 4,
            Column::Multi { offsets, ids } => (offsets.len() + ids.len()) * 4,
            Column::Dense(v) => v.len() * 4,
        })
        .sum::<usize>()
        + dataset.labels.len()
        + dataset.rows() * 4;
    println!("{seconds} {} {} {}", peak_rss_mb(), encoded as f64 / 1e6, report.from_cache);
}

fn run_child(descriptor: &Path, cache_dir: &Path, no_cache: bool) -> (f64, f64, f64, bool) {
    let exe = std::env::current_exe().expect("exe");
    let mut command = Command::new(exe);
    command.arg("child").arg(descriptor).arg(cache_dir);
    if no_cache {
        command.arg("--no-cache");
    }
    let output = command.output().expect("child runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    let parts: Vec<&str> = text.split_whitespace().collect();
    (parts[0].parse().unwrap(), parts[1].parse().unwrap(), parts[2].parse().unwrap(), parts[3] == "true")
}

fn write_csv(path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "user,item,category,domain,device,hour,price,tags,click").unwrap();
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let tags = ["news", "sport", "music", "tech", "food", "travel"];
    for _ in 0..CSV_ROWS {
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
        )
        .unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child(Path::new(&args[2]), Path::new(&args[3]), args.get(4).is_some());
        return;
    }
    let tmp = std::env::temp_dir().join(format!("apg-load-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let cache = tmp.join("cache");

    match std::env::var_os("APG_BENCH_DATA") {
        Some(shared) => {
            let text = data::descriptor::BUILT_IN
                .iter()
                .find(|(n, _)| *n == "movielens-100k")
                .unwrap()
                .1
                .replace("${APG_BENCH_DATA}", &PathBuf::from(shared).display().to_string());
            let descriptor = tmp.join("ml100k.toml");
            std::fs::write(&descriptor, text).unwrap();
            let cold: Vec<f64> = (0..REPEATS).map(|_| run_child(&descriptor, &cache, true).0).collect();
            run_child(&descriptor, &cache, false); // writes the cache
            let cached: Vec<(f64, f64, f64, bool)> =
                (0..REPEATS).map(|_| run_child(&descriptor, &cache, false)).collect();
            assert!(cached.iter().all(|c| c.3), "cached loads must hit the cache");
            println!("ml-100k load + encode, cold:   {:7.1} ms (median of {REPEATS})", median(cold) * 1e3);
            println!(
                "ml-100k load, from cache:      {:7.1} ms (median of {REPEATS})",
                median(cached.iter().map(|c| c.0).collect()) * 1e3
            );
        }
        None => println!("ml-100k: skipped (APG_BENCH_DATA is not set)"),
    }

    let csv = tmp.join("bench.csv");
    write_csv(&csv);
    let descriptor = tmp.join("bench.toml");
    std::fs::write(&descriptor, CSV_DESCRIPTOR).unwrap();
    let size_mb = std::fs::metadata(&csv).unwrap().len() as f64 / 1e6;
    let runs: Vec<(f64, f64, f64, bool)> = (0..3).map(|_| run_child(&descriptor, &cache, true)).collect();
    let seconds = median(runs.iter().map(|r| r.0).collect());
    let peak = median(runs.iter().map(|r| r.1).collect());
    println!(
        "2M-row CSV ({size_mb:.0} MB, 9 columns) load + encode: {seconds:.2} s = {:.2} M rows/s (median of 3); peak RSS {peak:.0} MB; encoded columns {:.0} MB",
        CSV_ROWS as f64 / seconds / 1e6,
        runs[0].2
    );
    let cached = run_child(&descriptor, &cache, false);
    let cached = if cached.3 { cached } else { run_child(&descriptor, &cache, false) };
    println!("2M-row CSV from cache: {:.0} ms, peak RSS {:.0} MB", cached.0 * 1e3, cached.1);
    let _ = std::fs::remove_dir_all(&tmp);
}
