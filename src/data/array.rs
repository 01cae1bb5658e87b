//! The arrays of an encoded dataset: either owned vectors or views into a memory-mapped
//! cache file. A mapped array costs no anonymous memory: its pages come from the file
//! as they are read and the kernel may drop them again, so a dataset larger than RAM
//! can be trained on (docs/data-engine.md).

use std::ops::Deref;
use std::sync::Arc;

use memmap2::Mmap;

/// A read-only mapping: of a file, or of anonymous memory holding what a file would.
pub struct Mapping {
    pub map: Mmap,
    /// Whether the pages come from a file (and may be dropped and read again).
    pub file_backed: bool,
}

/// A read-only array of plain values, owned or mapped; it reads as a slice.
#[derive(Clone)]
pub enum Array<T> {
    Owned(Vec<T>),
    /// `len` values starting `start` bytes into the mapping.
    Mapped {
        map: Arc<Mapping>,
        start: usize,
        len: usize,
    },
}

impl<T: bytemuck::Pod> Array<T> {
    /// A view of `len` values at byte `start` of `map`: None when they do not fit in the
    /// mapping or are not aligned for `T` (the cache layout aligns every array), or on a
    /// big-endian machine, where the little-endian file cannot be read in place.
    pub fn mapped(map: &Arc<Mapping>, start: usize, len: usize) -> Option<Self> {
        let end = len.checked_mul(size_of::<T>())?.checked_add(start)?;
        let bytes = map.map.get(start..end)?;
        if cfg!(target_endian = "big") || bytemuck::try_cast_slice::<u8, T>(bytes).is_err() {
            return None;
        }
        Some(Array::Mapped { map: Arc::clone(map), start, len })
    }

    pub fn is_mapped(&self) -> bool {
        matches!(self, Array::Mapped { .. })
    }

    /// Drops the pages of a mapped array from the process's resident set, after a pass
    /// over it (the cache's checks), so that reading a large file does not leave it all
    /// resident; they are read again from the file when next touched.
    pub fn release(&self) {
        if let Array::Mapped { map, start, len } = self {
            release(map, *start, *len * size_of::<T>());
        }
    }

    /// The same values in an owned vector (a copy of a mapped array).
    pub fn into_owned(self) -> Self {
        match self {
            Array::Owned(values) => Array::Owned(values),
            mapped => Array::Owned(mapped.to_vec()),
        }
    }
}

/// Drops `len` bytes at `start` of a read-only file mapping from the resident set (an
/// anonymous mapping keeps them: they exist nowhere else).
pub fn release(map: &Mapping, start: usize, len: usize) {
    if !map.file_backed {
        return;
    }
    // SAFETY: the mapping is read-only and backed by a file: a dropped page holds nothing
    // the file does not, and is read from it again when next touched.
    #[cfg(unix)]
    let _ = unsafe { map.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len) };
    #[cfg(not(unix))]
    let _ = (start, len);
}

impl<T: bytemuck::Pod> Deref for Array<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Array::Owned(values) => values,
            Array::Mapped { map, start, len } => bytemuck::cast_slice(&map.map[*start..*start + *len * size_of::<T>()]),
        }
    }
}

impl<T> From<Vec<T>> for Array<T> {
    fn from(values: Vec<T>) -> Self {
        Array::Owned(values)
    }
}

impl<T> FromIterator<T> for Array<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Array::Owned(iter.into_iter().collect())
    }
}

impl<T> Default for Array<T> {
    fn default() -> Self {
        Array::Owned(Vec::new())
    }
}

impl<T: bytemuck::Pod + PartialEq> PartialEq for Array<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: bytemuck::Pod + PartialEq> PartialEq<Vec<T>> for Array<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        **self == **other
    }
}

impl<T: bytemuck::Pod + std::fmt::Debug> std::fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<'a, T: bytemuck::Pod> IntoIterator for &'a Array<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_endian = "little")]
    fn a_mapped_array_reads_the_file_in_place() {
        let dir = std::env::temp_dir().join(format!("apg-array-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("values");
        let values: Vec<u32> = vec![7, 8, 9, 10];
        let mut bytes = vec![0u8; 4];
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(&path, &bytes).unwrap();
        let map = unsafe { Mmap::map(&std::fs::File::open(&path).unwrap()).unwrap() };
        let map = Arc::new(Mapping { map, file_backed: true });
        let array = Array::<u32>::mapped(&map, 4, 4).unwrap();
        assert!(array.is_mapped());
        assert_eq!(&*array, &[7, 8, 9, 10]);
        array.release();
        assert_eq!(&*array, &[7, 8, 9, 10], "released pages are read again");
        assert_eq!(array.clone().into_owned(), Array::Owned(values));
        // Misaligned, or past the end: refused.
        assert!(Array::<u32>::mapped(&map, 2, 1).is_none());
        assert!(Array::<u32>::mapped(&map, 4, 5).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
