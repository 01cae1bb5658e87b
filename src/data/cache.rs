//! The on-disk cache of encoded datasets: one binary file per dataset, keyed by a
//! fingerprint of the descriptor and the source files' bytes, checked by CRC32. A stale
//! or corrupt cache is reported and rebuilt, never trusted. It is also what training
//! reads: the file is memory-mapped and its arrays are used in place.
//!
//! Layout (docs/data-engine.md): a 64-byte header (magic `APGCACHE`, format version
//! (u32), fingerprint (32 hex bytes), offset (u64) and length (u64) of the layout, CRC32
//! (u32) of everything after the header), then the arrays as little-endian values, each
//! starting on a multiple of 64 bytes, written as the encoder streams them, then the
//! layout: JSON naming the fields and where each array lies.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::data::DataError;
use crate::data::array::{Array, Mapping};
use crate::data::descriptor::LoadedDescriptor;
use crate::data::encode::{Column, EncodedDataset, EncodedField, FieldInfo, Split};
use crate::data::load::SourceFile;

const MAGIC: &[u8; 8] = b"APGCACHE";
/// Bump when the encoding or the layout changes: older caches then read as stale.
const FORMAT_VERSION: u32 = 5;
pub const HEADER_LEN: usize = 64;
/// Every array starts on a multiple of this many bytes, so that a mapped array is
/// aligned for its values (and for cache lines).
const ALIGN: u64 = 64;

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

/// Where the cache of `dataset` lives in `dir`.
pub fn cache_path(dir: &Path, dataset: &str) -> PathBuf {
    dir.join(format!("{dataset}.apgcache"))
}

/// Where an array lies in the file: byte offset and number of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub offset: u64,
    pub len: u64,
}

/// The arrays of one field's column.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnSlots {
    Ids(Slot),
    Multi { offsets: Slot, ids: Slot },
    Dense(Slot),
}

/// The JSON at the end of the file: the fields and where every array lies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layout {
    pub name: String,
    pub rows: usize,
    pub fields: Vec<FieldInfo>,
    pub columns: Vec<ColumnSlots>,
    /// Per field: the raw ids of its pooled rows (see [`EncodedField::pooled`]).
    pub pooled: Vec<Option<Slot>>,
    /// u8 per row.
    pub labels: Slot,
    /// Train, validation and test row indices (u32).
    pub split: [Slot; 3],
    /// f32 per row, for generated data.
    pub oracle: Option<Slot>,
}

/// Writes a cache file array by array, as the encoder produces them: into a temporary
/// file named after this process, synced and renamed by [`CacheWriter::finish`]; a
/// writer dropped unfinished removes its file.
pub struct CacheWriter {
    path: PathBuf,
    temporary: PathBuf,
    file: Option<Output>,
    /// Bytes written so far.
    offset: u64,
    /// CRC32 of everything after the header.
    hasher: crc32fast::Hasher,
    /// Offset and values so far of the array being written.
    current: Option<Slot>,
    renamed: bool,
}

/// Where a cache is written: its file, or memory when no file can be written.
enum Output {
    File(std::io::BufWriter<std::fs::File>),
    Memory(Vec<u8>),
}

impl CacheWriter {
    /// Starts the cache file `path` (its folder must exist).
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let temporary = crate::process::temporary_path(path);
        let file = std::fs::File::create(&temporary)?;
        Self::start(path, temporary, Output::File(std::io::BufWriter::with_capacity(1 << 20, file)))
    }

    /// Writes the same bytes into memory (see [`CacheWriter::finish_in_memory`]).
    pub fn in_memory() -> Self {
        Self::start(Path::new(""), PathBuf::new(), Output::Memory(Vec::new())).expect("memory takes every write")
    }

    fn start(path: &Path, temporary: PathBuf, output: Output) -> std::io::Result<Self> {
        let mut writer = CacheWriter {
            path: path.to_path_buf(),
            temporary,
            file: Some(output),
            offset: 0,
            hasher: crc32fast::Hasher::new(),
            current: None,
            renamed: false,
        };
        // The header is written last, once the layout's place and the CRC are known.
        writer.raw(&[0u8; HEADER_LEN])?;
        writer.hasher = crc32fast::Hasher::new();
        Ok(writer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.file.as_mut().expect("a writer writes until it finishes") {
            Output::File(file) => file.write_all(bytes)?,
            Output::Memory(memory) => memory.extend_from_slice(bytes),
        }
        self.hasher.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> std::io::Result<()> {
        let padding = (ALIGN - self.offset % ALIGN) % ALIGN;
        self.raw(&[0u8; ALIGN as usize][..padding as usize])
    }

    /// Starts an array; [`CacheWriter::put`] appends its values, [`CacheWriter::end`]
    /// says where it lies.
    pub fn begin(&mut self) -> std::io::Result<()> {
        self.pad()?;
        self.current = Some(Slot { offset: self.offset, len: 0 });
        Ok(())
    }

    /// Appends values (of one type per array) to the array begun last.
    pub fn put<T: bytemuck::Pod>(&mut self, values: &[T]) -> std::io::Result<()> {
        let current = self.current.as_mut().expect("put between begin and end");
        current.len += values.len() as u64;
        if cfg!(target_endian = "big") {
            let mut bytes = bytemuck::cast_slice::<T, u8>(values).to_vec();
            bytes.chunks_mut(size_of::<T>()).for_each(<[u8]>::reverse);
            self.raw(&bytes)
        } else {
            self.raw(bytemuck::cast_slice(values))
        }
    }

    pub fn end(&mut self) -> Slot {
        self.current.take().expect("end after begin")
    }

    /// A whole array at once.
    pub fn array<T: bytemuck::Pod>(&mut self, values: &[T]) -> std::io::Result<Slot> {
        self.begin()?;
        self.put(values)?;
        Ok(self.end())
    }

    /// Writes the layout and returns the header.
    fn end_with_layout(&mut self, fingerprint: &str, layout: &Layout) -> std::io::Result<Vec<u8>> {
        self.pad()?;
        let layout_offset = self.offset;
        let json = serde_json::to_vec(layout).expect("layouts serialise");
        self.raw(&json)?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        header.extend_from_slice(fingerprint.as_bytes());
        header.extend_from_slice(&layout_offset.to_le_bytes());
        header.extend_from_slice(&(json.len() as u64).to_le_bytes());
        header.extend_from_slice(&self.hasher.clone().finalize().to_le_bytes());
        header.resize(HEADER_LEN, 0);
        Ok(header)
    }

    /// The bytes of a cache written [`CacheWriter::in_memory`], for [`from_bytes`].
    pub fn finish_in_memory(mut self, fingerprint: &str, layout: &Layout) -> Vec<u8> {
        let header = self.end_with_layout(fingerprint, layout).expect("memory takes every write");
        self.renamed = true;
        let Some(Output::Memory(mut bytes)) = self.file.take() else { panic!("not a writer in memory") };
        bytes[..HEADER_LEN].copy_from_slice(&header);
        bytes
    }

    /// Writes the layout and the header, syncs and renames the file into place.
    pub fn finish(mut self, fingerprint: &str, layout: &Layout) -> std::io::Result<()> {
        let header = self.end_with_layout(fingerprint, layout)?;
        let Some(Output::File(file)) = self.file.take() else { panic!("not a writer to a file") };
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        file.write_all(&header)?;
        file.sync_all()?;
        crate::fault_point::reached("cache");
        std::fs::rename(&self.temporary, &self.path)?;
        self.renamed = true;
        Ok(())
    }
}

impl Drop for CacheWriter {
    fn drop(&mut self) {
        if !self.renamed {
            self.file = None;
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// Reads the cache if it exists, matches `fingerprint` and is intact, as a dataset whose
/// arrays are views into the memory-mapped file: nothing is copied into the process's
/// own memory. The CRC is checked over the mapping (file pages, which the kernel may
/// drop again), and every id and row index is checked to be in range; nothing is
/// returned otherwise. Temporary files that killed writers left in the cache folder are
/// removed first (those of live writers stay: see [`crate::process::sweep_temporaries`]).
///
/// The cache is only ever replaced by a rename, so a mapping stays valid while another
/// process rebuilds it; a file changed in place by someone else would not be.
pub fn read(path: &Path, fingerprint: &str) -> Result<EncodedDataset, CacheMiss> {
    if let Some(dir) = path.parent() {
        crate::process::sweep_temporaries(dir);
    }
    let corrupt = |why: &str| CacheMiss::Corrupt(why.to_string());
    // Checked before opening: opening a FIFO blocks until a writer comes, and a device
    // or folder is no cache either. The size bounds every offset the file declares.
    let size = match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => metadata.len(),
        Ok(_) => return Err(corrupt("not a regular file")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CacheMiss::Absent),
        Err(e) => return Err(CacheMiss::Corrupt(format!("cannot read: {e}"))),
    };
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CacheMiss::Absent),
        Err(e) => return Err(CacheMiss::Corrupt(format!("cannot read: {e}"))),
    };
    let mut header = [0u8; HEADER_LEN];
    if file.read_exact(&mut header).is_err() {
        return Err(corrupt("not an apg-bench cache file"));
    }
    check_header(&header, fingerprint, size)?;
    // SAFETY: the map is read-only and this program replaces cache files only by renaming
    // new ones into place, which leaves the mapped file as it was.
    let map = match unsafe { Mmap::map(&file) } {
        Ok(map) if map.len() as u64 == size => Arc::new(Mapping { map, file_backed: true }),
        Ok(_) => return Err(corrupt("changed while read")),
        Err(e) => return Err(CacheMiss::Corrupt(format!("cannot map: {e}"))),
    };
    checked_dataset(map, fingerprint)
}

/// A dataset from the bytes of a cache written in memory, checked as a file is.
pub fn from_bytes(bytes: &[u8], fingerprint: &str) -> Result<EncodedDataset, CacheMiss> {
    let size = bytes.len() as u64;
    check_header(bytes.get(..HEADER_LEN).unwrap_or_default(), fingerprint, size)?;
    let mut map = memmap2::MmapOptions::new()
        .len(bytes.len())
        .map_anon()
        .map_err(|e| CacheMiss::Corrupt(format!("cannot map: {e}")))?;
    map.copy_from_slice(bytes);
    let map = map.make_read_only().map_err(|e| CacheMiss::Corrupt(format!("cannot map: {e}")))?;
    checked_dataset(Arc::new(Mapping { map, file_backed: false }), fingerprint)
}

/// Magic, version, fingerprint, and a layout that ends a file of `size` bytes.
fn check_header(header: &[u8], fingerprint: &str, size: u64) -> Result<(), CacheMiss> {
    let corrupt = |why: &str| CacheMiss::Corrupt(why.to_string());
    if header.len() < HEADER_LEN || &header[..8] != MAGIC {
        return Err(corrupt("not an apg-bench cache file"));
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION || &header[12..44] != fingerprint.as_bytes() {
        return Err(CacheMiss::Stale);
    }
    let layout_offset = u64::from_le_bytes(header[44..52].try_into().expect("8 bytes"));
    let layout_len = u64::from_le_bytes(header[52..60].try_into().expect("8 bytes"));
    // The layout must end the file: every offset is then bounded by what is really there.
    if layout_offset < HEADER_LEN as u64 || layout_offset.checked_add(layout_len) != Some(size) {
        return Err(corrupt("wrong length"));
    }
    Ok(())
}

/// The dataset of a mapped cache whose header passed [`check_header`], if its CRC, its
/// layout and its contents hold.
fn checked_dataset(map: Arc<Mapping>, fingerprint: &str) -> Result<EncodedDataset, CacheMiss> {
    let corrupt = |why: &str| CacheMiss::Corrupt(why.to_string());
    let layout_offset = u64::from_le_bytes(map.map[44..52].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(map.map[60..64].try_into().expect("4 bytes"));
    let len = map.map.len();
    // A window at a time, each released after: the check does not leave the file resident.
    const WINDOW: usize = 1 << 23;
    let mut hasher = crc32fast::Hasher::new();
    for start in (HEADER_LEN..len).step_by(WINDOW) {
        let end = (start + WINDOW).min(len);
        hasher.update(&map.map[start..end]);
        crate::data::array::release(&map, start, end - start);
    }
    if hasher.finalize() != crc {
        return Err(corrupt("checksum mismatch"));
    }
    let layout: Layout =
        serde_json::from_slice(&map.map[layout_offset as usize..]).map_err(|_| corrupt("truncated or inconsistent"))?;
    let dataset =
        mapped_dataset(&map, layout, layout_offset, fingerprint).ok_or_else(|| corrupt("truncated or inconsistent"))?;
    consistent(&dataset).then_some(dataset).ok_or_else(|| corrupt("inconsistent contents"))
}

/// The array at `slot`, which must lie between the header and the layout.
fn array<T: bytemuck::Pod>(map: &Arc<Mapping>, slot: Slot, layout_offset: u64) -> Option<Array<T>> {
    let end = slot.len.checked_mul(size_of::<T>() as u64)?.checked_add(slot.offset)?;
    if slot.offset < HEADER_LEN as u64 || end > layout_offset {
        return None;
    }
    let (start, len) = (usize::try_from(slot.offset).ok()?, usize::try_from(slot.len).ok()?);
    if cfg!(target_endian = "big") {
        let bytes = map.map.get(start..usize::try_from(end).ok()?)?;
        return Some(
            bytes
                .chunks(size_of::<T>())
                .map(|value| {
                    let mut value = value.to_vec();
                    value.reverse();
                    bytemuck::pod_read_unaligned(&value)
                })
                .collect(),
        );
    }
    Array::mapped(map, start, len)
}

fn mapped_dataset(map: &Arc<Mapping>, layout: Layout, layout_offset: u64, fingerprint: &str) -> Option<EncodedDataset> {
    if layout.fields.len() != layout.columns.len() || layout.fields.len() != layout.pooled.len() {
        return None;
    }
    let mut fields = Vec::new();
    for ((info, slots), pooled) in layout.fields.into_iter().zip(layout.columns).zip(layout.pooled) {
        let column = match slots {
            ColumnSlots::Ids(slot) => Column::Ids(array(map, slot, layout_offset)?),
            ColumnSlots::Multi { offsets, ids } => {
                Column::Multi { offsets: array(map, offsets, layout_offset)?, ids: array(map, ids, layout_offset)? }
            }
            ColumnSlots::Dense(slot) => Column::Dense(array(map, slot, layout_offset)?),
        };
        let pooled = match (&column, pooled) {
            (Column::Ids(ids), Some(slot)) => {
                let pooled: Array<u32> = array(map, slot, layout_offset)?;
                let zeros = ids.iter().filter(|&&id| id == 0).count();
                ids.release();
                Some(Some(pooled).filter(|p| p.len() == zeros)?)
            }
            (_, Some(_)) => return None,
            (_, None) => None,
        };
        fields.push(EncodedField { info, column, pooled });
    }
    let labels: Array<u8> = array(map, layout.labels, layout_offset)?;
    if labels.len() != layout.rows {
        return None;
    }
    let [train, valid, test] = layout.split;
    let split = Split {
        train: array(map, train, layout_offset)?,
        valid: array(map, valid, layout_offset)?,
        test: array(map, test, layout_offset)?,
    };
    let oracle = match layout.oracle {
        Some(slot) => Some(array(map, slot, layout_offset)?).filter(|o: &Array<f32>| o.len() == layout.rows),
        None => None,
    };
    if layout.oracle.is_some() && oracle.is_none() {
        return None;
    }
    Some(EncodedDataset { name: layout.name, fingerprint: fingerprint.to_string(), fields, labels, split, oracle })
}

/// Every id within its vocabulary, every row index within the table: a cache that
/// passes its checksum but breaks these was not written by us. Each array is released
/// once checked (see [`Array::release`]).
fn consistent(dataset: &EncodedDataset) -> bool {
    let rows = dataset.rows();
    let columns_ok = dataset.fields.iter().all(|f| {
        let vocab = f.info.vocab.len() as u32;
        match &f.column {
            Column::Ids(ids) => {
                let ok = ids.len() == rows && ids.iter().all(|&id| id < vocab);
                ids.release();
                ok
            }
            Column::Multi { offsets, ids } => {
                let ok = offsets.len() == rows + 1
                    && offsets.windows(2).all(|w| w[0] <= w[1])
                    && offsets.last().is_some_and(|&o| o as usize == ids.len())
                    && ids.iter().all(|&id| id < vocab);
                offsets.release();
                ids.release();
                ok
            }
            Column::Dense(values) => values.len() == rows,
        }
    });
    let labels_ok = dataset.labels.iter().all(|&l| l <= 1);
    dataset.labels.release();
    let split_ok = dataset.split.parts().iter().all(|(_, part)| part.iter().all(|&r| (r as usize) < rows));
    [&dataset.split.train, &dataset.split.valid, &dataset.split.test].iter().for_each(|part| part.release());
    columns_ok && labels_ok && split_ok
}
