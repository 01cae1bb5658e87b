//! A dataset larger than memory: its encoded columns are bigger than a memory bound, yet
//! encoding it (columns streamed from spill files into the cache) and training on it
//! (from the memory-mapped cache) grow the process's anonymous resident memory (RssAnon:
//! heap and stacks; not the mapped file's pages, which the kernel may drop again) by less
//! than that bound. The same columns copied into memory break the bound: the measurement
//! would catch training that loaded them.
//!
//! One test in its own binary, so that no other test's memory is counted.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::data::{self, LoadOptions};
use apg_bench::train::trainer::{TrainJob, spawn};
use apg_bench::train::{Event, RunEnd};

const ROWS: usize = 1_000_000;
const FIELDS: usize = 24;
const VALUES: u64 = 50;
const BATCH: usize = 4096;

/// RssAnon of this process, in bytes (Linux).
fn rss_anon() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find(|l| l.starts_with("RssAnon:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The largest RssAnon seen since the last reset, sampled every millisecond.
struct Sampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start() -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(&peak), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_anon().unwrap_or(0), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        Sampler { peak, stop, thread: Some(thread) }
    }

    /// Starts a new measurement: forgets the peak so far and returns RssAnon now.
    fn reset(&self) -> u64 {
        self.peak.store(0, Ordering::Relaxed);
        rss_anon().unwrap_or(0)
    }

    /// How far RssAnon rose above `start` since the last reset.
    fn growth(&self, start: u64) -> u64 {
        self.peak.load(Ordering::Relaxed).max(rss_anon().unwrap_or(0)).saturating_sub(start)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.take().map(|t| t.join());
    }
}

/// A click log of `ROWS` rows: `FIELDS` categorical columns of `VALUES` values and a label.
fn write_csv(path: &std::path::Path) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let header: Vec<String> = (0..FIELDS).map(|f| format!("f{f}")).chain(["click".into()]).collect();
    writeln!(out, "{}", header.join(",")).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut line = String::new();
    for _ in 0..ROWS {
        line.clear();
        for _ in 0..FIELDS {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            line.push_str(&(state % VALUES).to_string());
            line.push(',');
        }
        line.push(if state >> 63 == 1 { '1' } else { '0' });
        writeln!(out, "{line}").unwrap();
    }
    out.flush().unwrap();
}

#[test]
fn a_dataset_larger_than_the_memory_bound_is_encoded_and_trained_within_it() {
    if rss_anon().is_none() {
        common::skip("/proc/self/status has no RssAnon", "run the test on Linux");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_csv(&dir.path().join("log.csv"));
    let fields: String =
        (0..FIELDS).map(|f| format!("[[fields]]\nname = \"f{f}\"\nkind = \"categorical\"\n")).collect();
    std::fs::write(
        dir.path().join("log.toml"),
        format!(
            "name = \"big-log\"\n[source]\nformat = \"csv\"\ndir = [\".\"]\npath = \"log.csv\"\n[label]\n\
             column = \"click\"\n{fields}[split]\nratios = [0.98, 0.01, 0.01]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("e.toml"),
        format!(
            "dataset = \"log.toml\"\n[model]\nhidden = [16]\nembedding_dim = 4\n\
             [train]\nepochs = 1\nbatch_size = {BATCH}\npatience = 0\nthreads = 1\n"
        ),
    )
    .unwrap();
    let experiment = LoadedExperiment::from_file(&dir.path().join("e.toml")).unwrap_or_else(|e| panic!("{e}"));
    let load = LoadOptions { cache_dir: Some(dir.path().join("cache")), no_cache: false };
    // Columns, labels (1 byte a row) and split (4 bytes a row).
    let encoded = (ROWS * (FIELDS * 4 + 1 + 4)) as u64;
    let bound = encoded / 3;
    let sampler = Sampler::start();

    // Encoding: the raw columns spill to files, the encoded ones stream into the cache.
    let before = sampler.reset();
    let (dataset, report) = data::load(&experiment.dataset, &load).unwrap();
    assert!(!report.from_cache && report.warnings.is_empty(), "{report:?}");
    assert!(dataset.is_mapped(), "the encoded dataset is the mapped cache file");
    assert_eq!(dataset.rows(), ROWS);
    let encoding = sampler.growth(before);

    // The control: the same columns copied into memory take at least `bound`.
    let before = sampler.reset();
    let owned = dataset.clone().into_owned();
    let copied = sampler.growth(before);
    assert!(!owned.is_mapped());
    drop(owned);
    drop(dataset);

    // Training reads the cache, mapped, and visits every training row once.
    let before = sampler.reset();
    let job = TrainJob { experiment, seed: 1, device: apg_bench::config::Device::Cpu, checkpoint: None, load };
    let handle = spawn(job);
    let events: Vec<Event> = handle.events.iter().collect();
    handle.join().unwrap();
    let training = sampler.growth(before);
    let summary = events
        .iter()
        .find_map(|e| match e {
            Event::Finished { summary } => Some(summary.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Finished event in {events:?}"));
    assert_eq!(summary.status, RunEnd::Finished);
    let from_cache = events.iter().any(|e| matches!(e, Event::Log { line } if line.contains("from cache")));
    assert!(from_cache, "the trainer read the cache");
    let train_rows = (ROWS as f64 * 0.98).round() as usize;
    assert_eq!(summary.steps, train_rows.div_ceil(BATCH));

    let mb = |bytes: u64| bytes as f64 / 1e6;
    eprintln!(
        "encoded {:.0} MB, bound {:.0} MB; RssAnon growth: encoding {:.1} MB, copied into memory {:.1} MB, \
         training {:.1} MB",
        mb(encoded),
        mb(bound),
        mb(encoding),
        mb(copied),
        mb(training)
    );
    assert!(copied >= bound, "the control copy took only {:.1} MB: the measurement is blind", mb(copied));
    assert!(encoding < bound, "encoding grew anonymous memory by {:.1} MB (bound {:.0} MB)", mb(encoding), mb(bound));
    assert!(training < bound, "training grew anonymous memory by {:.1} MB (bound {:.0} MB)", mb(training), mb(bound));
}
