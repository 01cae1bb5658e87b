//! `data fetch NAME`: downloads a public dataset from its publisher into
//! `datasets/NAME/`, checks its SHA-256, unpacks it and states its licence terms.
//! Nothing is left under the final name unless every file arrived and checked out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// How a downloaded file becomes files of the dataset folder.
#[derive(Debug, Clone, Copy)]
pub enum Unpack {
    /// A zip archive whose entries under `prefix` are extracted without it.
    Zip { prefix: &'static str },
    /// A plain file, kept under its name.
    Plain,
}

#[derive(Debug, Clone, Copy)]
pub struct RemoteFile {
    pub url: &'static str,
    /// Published SHA-256; None where the publisher gives none (then said, not hidden).
    pub sha256: Option<&'static str>,
    pub unpack: Unpack,
}

#[derive(Debug, Clone, Copy)]
pub struct Remote {
    pub name: &'static str,
    pub files: &'static [RemoteFile],
    pub licence: &'static str,
}

/// The datasets `data fetch` knows, with their publishers' addresses and checksums.
pub const CATALOG: &[Remote] = &[
    Remote {
        name: "movielens-100k",
        files: &[RemoteFile {
            url: "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
            sha256: Some("50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"),
            unpack: Unpack::Zip { prefix: "ml-100k/" },
        }],
        licence: "GroupLens usage licence: research use only; cite F. M. Harper and J. A. Konstan, \
                  The MovieLens Datasets: History and Context, ACM TiiS 5(4), 2015; no redistribution \
                  without permission; no commercial use without permission.",
    },
    Remote {
        name: "movielens-1m",
        files: &[RemoteFile {
            url: "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
            sha256: Some("a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"),
            unpack: Unpack::Zip { prefix: "ml-1m/" },
        }],
        licence: "GroupLens usage licence: research use only; cite Harper and Konstan (ACM TiiS 2015); \
                  no redistribution without permission; no commercial use without permission.",
    },
    Remote {
        name: "frappe",
        files: &[
            RemoteFile {
                url: "https://raw.githubusercontent.com/hexiangnan/neural_factorization_machine/ca2a5d11b929816aa44c6e470e795af144608507/data/frappe/frappe.train.libfm",
                sha256: None,
                unpack: Unpack::Plain,
            },
            RemoteFile {
                url: "https://raw.githubusercontent.com/hexiangnan/neural_factorization_machine/ca2a5d11b929816aa44c6e470e795af144608507/data/frappe/frappe.validation.libfm",
                sha256: Some("fdf4be563a7dd9b15f7a6e8b32671e90e6e7a2a2bd3af4e10bf13c5ad7e76e9e"),
                unpack: Unpack::Plain,
            },
            RemoteFile {
                url: "https://raw.githubusercontent.com/hexiangnan/neural_factorization_machine/ca2a5d11b929816aa44c6e470e795af144608507/data/frappe/frappe.test.libfm",
                sha256: Some("a2ebaef3a9af8e55f8bb0d08bc4923965e42e43760ebd7635ac2f8c5db99e097"),
                unpack: Unpack::Plain,
            },
        ],
        licence: "frappe (Baltrunas et al., arXiv:1505.03014), NFM split (He and Chua, SIGIR 2017): research \
                  use only; acknowledge the data set; no redistribution without permission; no \
                  de-anonymisation; no commercial use without permission.",
    },
];

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("unknown dataset `{0}`; `data fetch` knows: {1}")]
    Unknown(String, String),
    #[error("{url}: download failed: {message}")]
    Download { url: String, message: String },
    #[error("{url}: SHA-256 mismatch: expected {expected}, got {actual}; nothing was kept")]
    Checksum { url: String, expected: String, actual: String },
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{url}: bad archive: {message}")]
    Archive { url: String, message: String },
    #[error("--sha256 needs a dataset made of one file; `{0}` has several")]
    ChecksumForMany(String),
}

/// What a fetch did, for the user.
#[derive(Debug, Clone)]
pub struct FetchReport {
    pub folder: PathBuf,
    pub files: Vec<String>,
    /// Downloads checked against a published checksum, and those with none published.
    pub verified: Vec<String>,
    pub unverified: Vec<(String, String)>,
    pub licence: &'static str,
    pub already_present: bool,
}

pub struct FetchOptions {
    /// Replaces the publisher's folder in every URL (`http://mirror/path/`).
    pub mirror: Option<String>,
    /// Expected SHA-256 when fetching from a mirror whose file differs.
    pub sha256: Option<String>,
    /// Fetch again even if the folder exists.
    pub force: bool,
}

pub fn find(name: &str) -> Result<&'static Remote, FetchError> {
    CATALOG.iter().find(|r| r.name == name).ok_or_else(|| {
        FetchError::Unknown(name.to_string(), CATALOG.iter().map(|r| r.name).collect::<Vec<_>>().join(", "))
    })
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> FetchError + '_ {
    move |e| FetchError::Io { path: path.to_path_buf(), message: e.to_string() }
}

/// Downloads `name` into `datasets_dir/name/`. `progress` hears (url, bytes so far).
pub fn fetch(
    name: &str,
    datasets_dir: &Path,
    options: &FetchOptions,
    mut progress: impl FnMut(&str, u64),
) -> Result<FetchReport, FetchError> {
    let remote = find(name)?;
    if options.sha256.is_some() && remote.files.len() != 1 {
        return Err(FetchError::ChecksumForMany(name.to_string()));
    }
    let folder = datasets_dir.join(name);
    let mut report = FetchReport {
        folder: folder.clone(),
        files: Vec::new(),
        verified: Vec::new(),
        unverified: Vec::new(),
        licence: remote.licence,
        already_present: false,
    };
    if folder.is_dir() && !options.force {
        report.already_present = true;
        return Ok(report);
    }
    let staging = datasets_dir.join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io_error(&staging))?;
    let result = (|| {
        for file in remote.files {
            let url = match &options.mirror {
                Some(mirror) => format!("{}/{}", mirror.trim_end_matches('/'), file_name(file.url)),
                None => file.url.to_string(),
            };
            let download = staging.join(format!("{}.download", file_name(file.url)));
            let actual = download_to(&url, &download, &mut progress)?;
            let expected = options.sha256.clone().or(file.sha256.map(str::to_string));
            match expected {
                Some(expected) if !expected.eq_ignore_ascii_case(&actual) => {
                    return Err(FetchError::Checksum { url, expected, actual });
                }
                Some(_) => report.verified.push(url.clone()),
                None => report.unverified.push((url.clone(), actual)),
            }
            match file.unpack {
                Unpack::Plain => {
                    let target = staging.join(file_name(file.url));
                    std::fs::rename(&download, &target).map_err(io_error(&target))?;
                    report.files.push(file_name(file.url).to_string());
                }
                Unpack::Zip { prefix } => {
                    report.files.extend(unzip(&download, &staging, prefix, &url)?);
                    std::fs::remove_file(&download).map_err(io_error(&download))?;
                }
            }
        }
        if folder.exists() {
            std::fs::remove_dir_all(&folder).map_err(io_error(&folder))?;
        }
        std::fs::rename(&staging, &folder).map_err(io_error(&folder))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result.map(|()| report)
}

fn file_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Streams `url` into `path`, returning the SHA-256 of the bytes.
fn download_to(url: &str, path: &Path, progress: &mut impl FnMut(&str, u64)) -> Result<String, FetchError> {
    let failed = |message: String| FetchError::Download { url: url.to_string(), message };
    let response = ureq::get(url).call().map_err(|e| failed(e.to_string()))?;
    let mut reader = response.into_body().into_reader();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io_error(path))?);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buffer).map_err(|e| failed(e.to_string()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n]).map_err(io_error(path))?;
        total += n as u64;
        progress(url, total);
    }
    out.flush().map_err(io_error(path))?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Extracts the entries of `archive` under `prefix` into `dir`; returns their names.
fn unzip(archive: &Path, dir: &Path, prefix: &str, url: &str) -> Result<Vec<String>, FetchError> {
    let bad = |message: String| FetchError::Archive { url: url.to_string(), message };
    let file = std::fs::File::open(archive).map_err(io_error(archive))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let mut names = Vec::new();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|e| bad(e.to_string()))?;
        let Some(path) = entry.enclosed_name() else {
            return Err(bad(format!("unsafe path {:?}", entry.name())));
        };
        let Ok(relative) = path.strip_prefix(prefix.trim_end_matches('/')) else {
            continue;
        };
        if entry.is_dir() || relative.as_os_str().is_empty() {
            continue;
        }
        let target = dir.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        let mut out = std::fs::File::create(&target).map_err(io_error(&target))?;
        std::io::copy(&mut entry, &mut out).map_err(io_error(&target))?;
        names.push(relative.display().to_string());
    }
    if names.is_empty() {
        return Err(bad(format!("no entries under {prefix}")));
    }
    Ok(names)
}
