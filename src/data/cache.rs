//! The on-disk cache of encoded datasets: a small binary file per dataset, keyed by a
//! fingerprint of the descriptor and the source files' bytes, checked by CRC32. A stale
//! or corrupt cache is reported and rebuilt, never trusted.
//!
//! Layout: magic `APGCACHE`, format version (u32), fingerprint (32 hex bytes), payload
//! length (u64), CRC32 of the payload (u32), then the payload: a JSON header (field
//! metadata and array lengths) followed by the columns (each field's column, then its
//! raw ids if it has them) as little-endian arrays.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::data::DataError;
use crate::data::descriptor::LoadedDescriptor;
use crate::data::encode::{Column, EncodedDataset, EncodedField, FieldInfo, Split};
use crate::data::load::SourceFile;

const MAGIC: &[u8; 8] = b"APGCACHE";
/// Bump when the encoding or the layout changes: older caches then read as stale.
const FORMAT_VERSION: u32 = 4;
const HEADER_LEN: usize = 8 + 4 + 32 + 8 + 4;

/// Hex fingerprint of the descriptor (its meaning, not its layout) and the source bytes.
pub fn fingerprint(descriptor: &LoadedDescriptor, files: &[SourceFile]) -> Result<String, DataError> {
    let mut hasher = Xxh3::new();
    hasher.update(&FORMAT_VERSION.to_le_bytes());
    let canonical = serde_json::to_vec(&descriptor.descriptor).expect("descriptors serialise");
    hasher.update(&canonical);
    if descriptor.descriptor.source.format == crate::data::descriptor::Format::Synthetic {
        hasher.update(&crate::data::synthetic::GENERATOR_VERSION.to_le_bytes());
    }
    let mut buffer = vec![0u8; 1 << 20];
    for file in files {
        hasher.update(file.path.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
        let mut reader = std::fs::File::open(&file.path).map_err(|e| DataError::io(&file.path, e))?;
        let mut length = 0u64;
        loop {
            let n = reader.read(&mut buffer).map_err(|e| DataError::io(&file.path, e))?;
            if n == 0 {
                break;
            }
            length += n as u64;
            hasher.update(&buffer[..n]);
        }
        hasher.update(&length.to_le_bytes());
    }
    Ok(format!("{:032x}", hasher.digest128()))
}

/// Why a cache file was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheMiss {
    Absent,
    /// Built from other files or another descriptor (or an older apg-bench).
    Stale,
    /// Unreadable, truncated or failing its checksum.
    Corrupt(String),
}

#[derive(Serialize, Deserialize)]
struct Header {
    name: String,
    rows: usize,
    fields: Vec<FieldInfo>,
    /// Per field: (kind of column, its array lengths).
    shapes: Vec<(String, Vec<usize>)>,
    split: [usize; 3],
    oracle: bool,
    /// Per field: whether the raw ids of its pooled rows (one per OOV id in its column)
    /// follow its column.
    pooled: Vec<bool>,
}

/// Where the cache of `dataset` lives in `dir`.
pub fn cache_path(dir: &Path, dataset: &str) -> PathBuf {
    dir.join(format!("{dataset}.apgcache"))
}

/// Reads the cache if it exists, matches `fingerprint` and is intact. The payload is
/// streamed straight into the column vectors while its CRC is computed, so a load
/// needs no second copy of the data; nothing is returned unless the CRC matches.
/// Temporary files that killed writers left in the cache folder are removed first (those
/// of live writers stay: see [`crate::process::sweep_temporaries`]).
pub fn read(path: &Path, fingerprint: &str) -> Result<EncodedDataset, CacheMiss> {
    if let Some(dir) = path.parent() {
        crate::process::sweep_temporaries(dir);
    }
    let corrupt = |why: &str| CacheMiss::Corrupt(why.to_string());
    // Checked before opening: opening a FIFO blocks until a writer comes, and a device
    // or folder is no cache either. The size bounds every length the file declares.
    let size = match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => metadata.len(),
        Ok(_) => return Err(corrupt("not a regular file")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CacheMiss::Absent),
        Err(e) => return Err(CacheMiss::Corrupt(format!("cannot read: {e}"))),
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CacheMiss::Absent),
        Err(e) => return Err(CacheMiss::Corrupt(format!("cannot read: {e}"))),
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; HEADER_LEN];
    if reader.read_exact(&mut header).is_err() || &header[..8] != MAGIC {
        return Err(corrupt("not an apg-bench cache file"));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION || &header[12..44] != fingerprint.as_bytes() {
        return Err(CacheMiss::Stale);
    }
    let length = u64::from_le_bytes(header[44..52].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(header[52..56].try_into().expect("4 bytes"));
    // The payload must be the rest of the file: every array is then bounded by what is
    // really there, and a corrupt length cannot ask for more memory than the file holds.
    if size.checked_sub(HEADER_LEN as u64) != Some(length) {
        return Err(corrupt("wrong length"));
    }
    let mut payload = Payload { reader, remaining: length, hasher: crc32fast::Hasher::new() };
    let dataset = decode_payload(&mut payload, fingerprint).ok_or_else(|| corrupt("truncated or inconsistent"))?;
    let mut extra = [0u8; 1];
    if payload.remaining != 0 || payload.reader.read(&mut extra).map_or(true, |n| n != 0) {
        return Err(corrupt("wrong length"));
    }
    if payload.hasher.finalize() != crc {
        return Err(corrupt("checksum mismatch"));
    }
    consistent(&dataset).then_some(dataset).ok_or_else(|| corrupt("inconsistent contents"))
}

/// Writes the cache atomically (a temporary file named after this process, then a
/// rename), so that a crash or a full disk never leaves a half-written cache under the
/// real name; a failed write removes its temporary file.
pub fn write(path: &Path, dataset: &EncodedDataset) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let payload = encode_payload(dataset);
    let temporary = crate::process::temporary_path(path);
    let result = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
        file.write_all(MAGIC)?;
        file.write_all(&FORMAT_VERSION.to_le_bytes())?;
        file.write_all(dataset.fingerprint.as_bytes())?;
        file.write_all(&(payload.len() as u64).to_le_bytes())?;
        file.write_all(&crc32fast::hash(&payload).to_le_bytes())?;
        file.write_all(&payload)?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        crate::fault_point::reached("cache");
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

fn encode_payload(dataset: &EncodedDataset) -> Vec<u8> {
    let shapes = dataset
        .fields
        .iter()
        .map(|f| match &f.column {
            Column::Ids(ids) => ("ids".to_string(), vec![ids.len()]),
            Column::Multi { offsets, ids } => ("multi".to_string(), vec![offsets.len(), ids.len()]),
            Column::Dense(values) => ("dense".to_string(), vec![values.len()]),
        })
        .collect();
    let split = &dataset.split;
    let header = Header {
        name: dataset.name.clone(),
        rows: dataset.rows(),
        fields: dataset.fields.iter().map(|f| f.info.clone()).collect(),
        shapes,
        split: [split.train.len(), split.valid.len(), split.test.len()],
        oracle: dataset.oracle.is_some(),
        pooled: dataset.fields.iter().map(|f| f.pooled.is_some()).collect(),
    };
    let header = serde_json::to_vec(&header).expect("headers serialise");
    let mut out = Vec::with_capacity(header.len() + 8 + dataset.rows() * (dataset.fields.len() + 2) * 4);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    let put_u32 =
        |out: &mut Vec<u8>, values: &[u32]| values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    let put_f32 =
        |out: &mut Vec<u8>, values: &[f32]| values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    for field in &dataset.fields {
        match &field.column {
            Column::Ids(ids) => put_u32(&mut out, ids),
            Column::Multi { offsets, ids } => {
                put_u32(&mut out, offsets);
                put_u32(&mut out, ids);
            }
            Column::Dense(values) => put_f32(&mut out, values),
        }
        if let Some(pooled) = &field.pooled {
            put_u32(&mut out, pooled);
        }
    }
    out.extend_from_slice(&dataset.labels);
    put_u32(&mut out, &split.train);
    put_u32(&mut out, &split.valid);
    put_u32(&mut out, &split.test);
    if let Some(oracle) = &dataset.oracle {
        put_f32(&mut out, oracle);
    }
    out
}

/// The payload being read: bounded by its declared length, hashed as it goes.
struct Payload<R> {
    reader: R,
    remaining: u64,
    hasher: crc32fast::Hasher,
}

impl<R: Read> Payload<R> {
    fn fill(&mut self, buffer: &mut [u8]) -> Option<()> {
        self.remaining = self.remaining.checked_sub(buffer.len() as u64)?;
        self.reader.read_exact(buffer).ok()?;
        self.hasher.update(buffer);
        Some(())
    }
    fn bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        if n as u64 > self.remaining {
            return None;
        }
        let mut buffer = vec![0u8; n];
        self.fill(&mut buffer)?;
        Some(buffer)
    }
    /// `n` little-endian 4-byte values read in place.
    fn array<T: bytemuck::Pod + Default>(&mut self, n: usize, from_le: fn(T) -> T) -> Option<Vec<T>> {
        if n.checked_mul(4)? as u64 > self.remaining {
            return None;
        }
        let mut values = vec![T::default(); n];
        self.fill(bytemuck::cast_slice_mut(&mut values))?;
        if cfg!(target_endian = "big") {
            values.iter_mut().for_each(|v| *v = from_le(*v));
        }
        Some(values)
    }
    fn u32s(&mut self, n: usize) -> Option<Vec<u32>> {
        self.array(n, u32::from_le)
    }
    fn f32s(&mut self, n: usize) -> Option<Vec<f32>> {
        self.array(n, |v: f32| f32::from_bits(u32::from_le(v.to_bits())))
    }
}

fn decode_payload<R: Read>(payload: &mut Payload<R>, fingerprint: &str) -> Option<EncodedDataset> {
    let header_len = u64::from_le_bytes(payload.bytes(8)?.try_into().ok()?) as usize;
    let header: Header = serde_json::from_slice(&payload.bytes(header_len)?).ok()?;
    if header.fields.len() != header.shapes.len() || header.fields.len() != header.pooled.len() {
        return None;
    }
    let mut fields = Vec::new();
    for ((info, (kind, lengths)), has_pooled) in header.fields.into_iter().zip(header.shapes).zip(header.pooled) {
        let column = match (kind.as_str(), lengths.as_slice()) {
            ("ids", [n]) => Column::Ids(payload.u32s(*n)?),
            ("multi", [n_offsets, n_ids]) => {
                Column::Multi { offsets: payload.u32s(*n_offsets)?, ids: payload.u32s(*n_ids)? }
            }
            ("dense", [n]) => Column::Dense(payload.f32s(*n)?),
            _ => return None,
        };
        let pooled = match (&column, has_pooled) {
            (Column::Ids(ids), true) => Some(payload.u32s(ids.iter().filter(|&&id| id == 0).count())?),
            (_, true) => return None,
            (_, false) => None,
        };
        fields.push(EncodedField { info, column, pooled });
    }
    let labels = payload.bytes(header.rows)?;
    let split = Split {
        train: payload.u32s(header.split[0])?,
        valid: payload.u32s(header.split[1])?,
        test: payload.u32s(header.split[2])?,
    };
    let oracle = if header.oracle { Some(payload.f32s(header.rows)?) } else { None };
    Some(EncodedDataset { name: header.name, fingerprint: fingerprint.to_string(), fields, labels, split, oracle })
}

/// Every id within its vocabulary, every row index within the table: a cache that
/// passes its checksum but breaks these was not written by us.
fn consistent(dataset: &EncodedDataset) -> bool {
    let rows = dataset.rows();
    let columns_ok = dataset.fields.iter().all(|f| {
        let vocab = f.info.vocab.len() as u32;
        match &f.column {
            Column::Ids(ids) => ids.len() == rows && ids.iter().all(|&id| id < vocab),
            Column::Multi { offsets, ids } => {
                offsets.len() == rows + 1
                    && offsets.windows(2).all(|w| w[0] <= w[1])
                    && offsets.last().is_some_and(|&o| o as usize == ids.len())
                    && ids.iter().all(|&id| id < vocab)
            }
            Column::Dense(values) => values.len() == rows,
        }
    });
    let split = &dataset.split;
    columns_ok
        && dataset.labels.iter().all(|&l| l <= 1)
        && split.parts().iter().all(|(_, part)| part.iter().all(|&r| (r as usize) < rows))
}
