//! The data engine: dataset descriptors, loaders per format, encoding with training-only
//! vocabularies, the on-disk cache (which is also what training reads, memory-mapped),
//! derived fields, statistics and the synthetic default.

pub mod array;
pub mod cache;
pub mod descriptor;
pub mod encode;
mod error;
pub mod fetch;
pub mod load;
pub mod raw;
pub mod spill;
pub mod stats;
pub mod synthetic;
pub mod time;
pub mod transform;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub use descriptor::{DatasetDescriptor, LoadedDescriptor};
pub use encode::{Column, EncodedDataset, EncodedField, EncodedKind, FieldInfo, Split};
pub use error::DataError;

use crate::process;
use cache::{CacheMiss, CacheWriter};
use encode::EncodeError;
use load::SourceFile;

/// How a load went: from the cache or from the source, and how long it took.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub from_cache: bool,
    /// Why the cache was not used (absent, stale, corrupt, disabled).
    pub cache_note: Option<String>,
    /// Problems that did not stop the load (e.g. the cache could not be written).
    pub warnings: Vec<String>,
    pub cache_file: Option<PathBuf>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Folder for cache files; None picks the default (see [`default_cache_dir`]).
    pub cache_dir: Option<PathBuf>,
    pub no_cache: bool,
}

/// `APG_BENCH_CACHE` if set; else `.apg-cache/` beside a descriptor file; for built-in
/// descriptors the user's cache folder (`$XDG_CACHE_HOME/apg-bench` or `~/.cache/apg-bench`).
pub fn default_cache_dir(descriptor: &LoadedDescriptor) -> PathBuf {
    if let Some(dir) = std::env::var_os("APG_BENCH_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if !descriptor.file.starts_with("<built-in>") {
        return descriptor.base_dir.join(".apg-cache");
    }
    user_cache_dir()
}

/// The user's cache folder for apg-bench: `$XDG_CACHE_HOME/apg-bench`, else
/// `~/.cache/apg-bench`, else one in the system's temporary folder.
pub fn user_cache_dir() -> PathBuf {
    let home_cache = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache"));
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or(home_cache)
        .unwrap_or_else(std::env::temp_dir)
        .join("apg-bench")
}

/// Loads and encodes a dataset, from the cache when it is fresh and intact.
pub fn load(descriptor: &LoadedDescriptor, options: &LoadOptions) -> Result<(EncodedDataset, LoadReport), DataError> {
    let start = Instant::now();
    let files = load::source_files(descriptor)?;
    let fingerprint = cache::fingerprint(descriptor, &files)?;
    let mut report =
        LoadReport { from_cache: false, cache_note: None, warnings: Vec::new(), cache_file: None, seconds: 0.0 };
    let cache_file = (!options.no_cache).then(|| {
        let dir = options.cache_dir.clone().unwrap_or_else(|| default_cache_dir(descriptor));
        cache::cache_path(&dir, &descriptor.descriptor.name)
    });
    if let Some(path) = &cache_file {
        report.cache_file = Some(path.clone());
        match cache::read(path, &fingerprint) {
            Ok(dataset) => {
                report.from_cache = true;
                report.seconds = start.elapsed().as_secs_f64();
                return Ok((dataset, report));
            }
            Err(CacheMiss::Absent) => report.cache_note = Some("no cache yet".into()),
            Err(CacheMiss::Stale) => {
                report.cache_note = Some("cache was stale (source or descriptor changed): rebuilt".into())
            }
            Err(CacheMiss::Corrupt(why)) => report.cache_note = Some(format!("cache was corrupt ({why}): rebuilt")),
        }
    } else {
        report.cache_note = Some("cache disabled".into());
    }
    // Encoded into the cache file, or where that cannot be written (or the cache is
    // off) into a scratch file in the system's temporary folder, removed once mapped.
    if let Some(path) = &cache_file {
        match encode_into(descriptor, &files, &fingerprint, path, &mut report.warnings) {
            Ok(dataset) => {
                report.seconds = start.elapsed().as_secs_f64();
                return Ok((dataset, report));
            }
            Err(EncodeError::Data(e)) => return Err(e),
            Err(EncodeError::Write(e)) => {
                report.warnings.push(format!("could not write the cache {}: {e}", path.display()))
            }
        }
    }
    let scratch = scratch_path(&descriptor.descriptor.name);
    let dataset = match encode_into(descriptor, &files, &fingerprint, &scratch, &mut report.warnings) {
        // A mapped file stays readable once removed (Unix); elsewhere it is copied first.
        Ok(dataset) => {
            let dataset = if cfg!(unix) { dataset } else { dataset.into_owned() };
            let _ = std::fs::remove_file(&scratch);
            dataset
        }
        Err(EncodeError::Data(e)) => return Err(e),
        Err(EncodeError::Write(e)) => {
            // No file can be written (a full disk, a file size limit): held in memory.
            report.warnings.push(format!("could not write {}: {e}; the dataset is held in memory", scratch.display()));
            encode_in_memory(descriptor, &files, &fingerprint, &mut report.warnings)?
        }
    };
    report.seconds = start.elapsed().as_secs_f64();
    Ok((dataset, report))
}

/// A scratch file for a dataset encoded without the cache, named after this process so
/// that a later load sweeps it if the process was killed.
fn scratch_path(dataset: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join("apg-bench-scratch");
    process::temporary_path(&dir.join(format!("{dataset}.scratch{n}.apgcache")))
}

/// Reads the source and encodes it in memory, without spilling: when no file can be written.
fn encode_in_memory(
    descriptor: &LoadedDescriptor,
    files: &[SourceFile],
    fingerprint: &str,
    warnings: &mut Vec<String>,
) -> Result<EncodedDataset, DataError> {
    let raw = load::load_raw(descriptor, files, encode::requests(descriptor), None)?;
    warnings.extend(time::split_warning(descriptor, &raw));
    let mut out = CacheWriter::in_memory();
    let layout = match encode::encode(descriptor, &raw, &mut out) {
        Ok(layout) => layout,
        Err(EncodeError::Data(e)) => return Err(e),
        Err(EncodeError::Write(e)) => unreachable!("memory takes every write: {e}"),
    };
    drop(raw);
    let bytes = out.finish_in_memory(fingerprint, &layout);
    cache::from_bytes(&bytes, fingerprint).map_err(|miss| DataError::Invalid {
        dataset: descriptor.descriptor.name.clone(),
        message: format!("the dataset encoded in memory does not read back ({miss:?})"),
    })
}

/// Reads the source (its columns spilled beside `path`), encodes it into the cache file
/// `path` and maps the result.
fn encode_into(
    descriptor: &LoadedDescriptor,
    files: &[SourceFile],
    fingerprint: &str,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<EncodedDataset, EncodeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    process::sweep_temporaries(dir);
    let stem = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let mut raw = load::load_raw(descriptor, files, encode::requests(descriptor), Some((dir, &stem)))?;
    raw.flush()?;
    warnings.extend(time::split_warning(descriptor, &raw));
    let mut out = CacheWriter::create(path)?;
    let layout = encode::encode(descriptor, &raw, &mut out)?;
    drop(raw);
    out.finish(fingerprint, &layout)?;
    drop(layout);
    cache::read(path, fingerprint)
        .map_err(|miss| std::io::Error::other(format!("the file just written does not read back ({miss:?})")).into())
}
