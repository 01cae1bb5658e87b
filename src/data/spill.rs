//! Append-only columns of the raw table that spill to a temporary file in chunks, so
//! that reading a source larger than memory holds one chunk per column, not the table.
//! Without a folder to spill to, a column stays in memory (small sources, tests).
//!
//! The files are named after their writer (`NAME.spillN.tmp<PID>`): removed when the
//! column is dropped, and swept by a later load if the writer was killed.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Values held in memory before they go to the file.
const CHUNK_VALUES: usize = 1 << 16;

static NEXT_FILE: AtomicUsize = AtomicUsize::new(0);

/// A growing column of plain values: in memory, or spilled to a file past a chunk.
pub struct Spill<T> {
    /// The values not yet written to the file.
    tail: Vec<T>,
    /// Where to spill: the file's path and, once created, its writer.
    file: Option<(PathBuf, Option<File>)>,
    /// Values already in the file.
    spilled: usize,
    /// The first write error: reported by [`Spill::flush`], since pushes cannot fail.
    error: Option<std::io::Error>,
}

impl<T: bytemuck::Pod> Spill<T> {
    /// A column that spills to a new file in `dir` named after `stem` once it outgrows a
    /// chunk.
    pub fn in_folder(dir: &Path, stem: &str) -> Self {
        let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
        let path = crate::process::temporary_path(&dir.join(format!("{stem}.spill{n}")));
        Spill { tail: Vec::new(), file: Some((path, None)), spilled: 0, error: None }
    }

    pub fn len(&self) -> usize {
        self.spilled + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, value: T) {
        self.tail.push(value);
        if self.tail.len() >= CHUNK_VALUES
            && self.file.is_some()
            && self.error.is_none()
            && let Err(e) = self.write_tail()
        {
            self.error = Some(e);
        }
    }

    fn write_tail(&mut self) -> std::io::Result<()> {
        let Some((path, file)) = &mut self.file else { return Ok(()) };
        let file = match file {
            Some(file) => file,
            None => file.insert(File::options().read(true).write(true).create_new(true).open(&*path)?),
        };
        file.write_all(bytemuck::cast_slice(&self.tail))?;
        self.spilled += self.tail.len();
        self.tail.clear();
        Ok(())
    }

    /// Reports the first write error, if any (once every value is pushed).
    pub fn flush(&mut self) -> std::io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Calls `f` with the values in order, a chunk at a time, until it fails.
    pub fn for_each_chunk(&self, mut f: impl FnMut(&[T]) -> std::io::Result<()>) -> std::io::Result<()> {
        if let Some((path, Some(_))) = &self.file {
            let mut reader = File::open(path)?;
            let mut chunk: Vec<T> = std::iter::repeat_n(T::zeroed(), CHUNK_VALUES.min(self.spilled)).collect();
            let mut left = self.spilled;
            while left > 0 {
                let n = left.min(CHUNK_VALUES);
                reader.read_exact(bytemuck::cast_slice_mut(&mut chunk[..n]))?;
                f(&chunk[..n])?;
                left -= n;
            }
        }
        if self.tail.is_empty() { Ok(()) } else { f(&self.tail) }
    }

    /// Every value in one vector.
    pub fn to_vec(&self) -> std::io::Result<Vec<T>> {
        let mut values = Vec::with_capacity(self.len());
        self.for_each_chunk(|chunk| {
            values.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(values)
    }
}

impl<T> Default for Spill<T> {
    fn default() -> Self {
        Spill { tail: Vec::new(), file: None, spilled: 0, error: None }
    }
}

impl<T> From<Vec<T>> for Spill<T> {
    fn from(values: Vec<T>) -> Self {
        Spill { tail: values, file: None, spilled: 0, error: None }
    }
}

impl<T> std::fmt::Debug for Spill<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spill({} values, {} in a file)", self.spilled + self.tail.len(), self.spilled)
    }
}

impl<T> Drop for Spill<T> {
    fn drop(&mut self) {
        if let Some((path, Some(_))) = &self.file {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_values_come_back_in_order_and_the_file_goes_with_the_column() {
        let dir = std::env::temp_dir().join(format!("apg-spill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut column = Spill::<u32>::in_folder(&dir, "test");
        let n = 3 * CHUNK_VALUES + 17;
        (0..n as u32).for_each(|v| column.push(v * 3));
        column.flush().unwrap();
        assert_eq!(column.len(), n);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "the column spilled to one file");
        let values = column.to_vec().unwrap();
        assert!(values.iter().enumerate().all(|(i, &v)| v == i as u32 * 3));
        drop(column);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the file went with the column");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
