//! Opening a data file for the loaders: gzip and zstd (known by their magic bytes,
//! whatever the file is called) are decompressed as they are read, a UTF-8 byte order
//! mark is skipped, and UTF-16 text or other binary content is refused, saying what the
//! file looks like.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use crate::data::DataError;

/// How many leading bytes are looked at to tell what a file holds.
const SNIFF_BYTES: u64 = 8192;
const BUFFER_BYTES: usize = 1 << 20;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const UTF8_BOM: &[u8] = &[0xef, 0xbb, 0xbf];

/// What the first bytes of a file say it is.
#[derive(Debug, PartialEq)]
enum Looks {
    Compressed(Codec),
    /// Text; its first `skip` bytes are a byte order mark.
    Text {
        skip: usize,
    },
    /// Not something the loaders read: what it looks like and what to do.
    Refused(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Codec {
    Gzip,
    Zstd,
}

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }
}

/// Opens `path` as a stream of text bytes, decompressing gzip or zstd on the fly.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let (prefix, file) = read_prefix(path, file)?;
    let codec = match sniff(&prefix) {
        Looks::Text { skip } => return Ok(rejoin(prefix, skip, file)),
        Looks::Refused(what) => return Err(DataError::io(path, what)),
        Looks::Compressed(codec) => codec,
    };
    let compressed = BufReader::with_capacity(BUFFER_BYTES, Cursor::new(prefix).chain(file));
    let name = codec.name();
    let decoder: Box<dyn Read> = match codec {
        Codec::Gzip => Box::new(Decoded(name, MultiGzDecoder::new(compressed))),
        Codec::Zstd => Box::new(Decoded(
            name,
            zstd::stream::read::Decoder::with_buffer(compressed).map_err(|e| DataError::io(path, e))?,
        )),
    };
    let (prefix, decoder) = read_prefix(path, decoder)?;
    match sniff(&prefix) {
        Looks::Text { skip } => Ok(rejoin(prefix, skip, decoder)),
        Looks::Compressed(_) => {
            Err(DataError::io(path, format!("{name}-compressed, and what it holds is compressed again: decompress it")))
        }
        Looks::Refused(what) => Err(DataError::io(path, format!("{name}-compressed, and what it holds {what}"))),
    }
}

/// The first bytes of `reader`, and the reader positioned after them.
fn read_prefix<R: Read>(path: &Path, mut reader: R) -> Result<(Vec<u8>, R), DataError> {
    let mut prefix = Vec::new();
    (&mut reader).take(SNIFF_BYTES).read_to_end(&mut prefix).map_err(|e| DataError::io(path, e))?;
    Ok((prefix, reader))
}

/// The prefix (less its first `skip` bytes) followed by the rest, buffered.
fn rejoin<R: Read + 'static>(mut prefix: Vec<u8>, skip: usize, rest: R) -> Box<dyn BufRead> {
    prefix.drain(..skip);
    Box::new(BufReader::with_capacity(BUFFER_BYTES, Cursor::new(prefix).chain(rest)))
}

fn sniff(prefix: &[u8]) -> Looks {
    const CONVERT: &str =
        "apg-bench reads UTF-8 or latin-1 text: convert it, e.g. `iconv -f UTF-16 -t UTF-8 FILE > FILE.csv`";
    if prefix.starts_with(GZIP_MAGIC) {
        return Looks::Compressed(Codec::Gzip);
    }
    if prefix.starts_with(ZSTD_MAGIC) {
        return Looks::Compressed(Codec::Zstd);
    }
    if prefix.starts_with(UTF8_BOM) {
        return Looks::Text { skip: UTF8_BOM.len() };
    }
    if prefix.starts_with(&[0xff, 0xfe]) || prefix.starts_with(&[0xfe, 0xff]) {
        let order = if prefix[0] == 0xff { "little-endian" } else { "big-endian" };
        let bom = if prefix[0] == 0xff { "FF FE" } else { "FE FF" };
        return Looks::Refused(format!("looks like UTF-16 text ({order}, byte order mark {bom}); {CONVERT}"));
    }
    if let Some(order) = utf16_without_bom(prefix) {
        return Looks::Refused(format!("looks like UTF-16 text ({order}, every other byte is 0); {CONVERT}"));
    }
    // bzip2's magic is text; the magic of its first block (the digits of pi) is not.
    let bzip2 = prefix.starts_with(b"BZh") && prefix.get(4..10) == Some(b"\x31\x41\x59\x26\x53\x59");
    let archive = if prefix.starts_with(b"PK\x03\x04") {
        Some("a zip archive: unpack it and point the descriptor at the file inside")
    } else if prefix.starts_with(b"\xfd7zXZ\x00") {
        Some("xz-compressed data: decompress it first (apg-bench reads plain, gzip- or zstd-compressed text)")
    } else if bzip2 {
        Some("bzip2-compressed data: decompress it first (apg-bench reads plain, gzip- or zstd-compressed text)")
    } else {
        None
    };
    if let Some(what) = archive {
        return Looks::Refused(format!("looks like {what}"));
    }
    if let Some(offset) = prefix.iter().position(|&b| b == 0) {
        return Looks::Refused(format!(
            "looks like binary data, not text (a 0 byte at offset {offset}); give a CSV/TSV or libFM text file, \
             plain, gzip- or zstd-compressed (or a Parquet file with format = \"parquet\")"
        ));
    }
    Looks::Text { skip: 0 }
}

/// UTF-16 without a byte order mark: most characters of CSV text are ASCII, so one byte
/// of nearly every pair is 0.
fn utf16_without_bom(prefix: &[u8]) -> Option<&'static str> {
    let pairs = prefix.len() / 2;
    if pairs < 2 {
        return None;
    }
    let zeros_at = |parity: usize| prefix.iter().skip(parity).step_by(2).take(pairs).filter(|&&b| b == 0).count();
    let (even, odd) = (zeros_at(0), zeros_at(1));
    let mostly = |count: usize| count * 10 >= pairs * 7;
    let rarely = |count: usize| count * 10 <= pairs;
    match (mostly(even), mostly(odd)) {
        (false, true) if rarely(even) => Some("little-endian"),
        (true, false) if rarely(odd) => Some("big-endian"),
        _ => None,
    }
}

/// A decoder, with its errors saying that the compressed data is at fault.
struct Decoded<R>(&'static str, R);

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let name = self.0;
        self.1.read(buffer).map_err(|e| std::io::Error::new(e.kind(), format!("the {name} data is corrupt: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_text_from_what_is_not() {
        assert_eq!(sniff(b"user,item\n1,2\n"), Looks::Text { skip: 0 });
        assert_eq!(sniff(b""), Looks::Text { skip: 0 });
        assert_eq!(sniff(b"\xef\xbb\xbfuser,item\n"), Looks::Text { skip: 3 });
        assert_eq!(sniff(b"\x1f\x8b\x08\x00"), Looks::Compressed(Codec::Gzip));
        assert_eq!(sniff(b"\x28\xb5\x2f\xfd\x04"), Looks::Compressed(Codec::Zstd));
        // latin-1 text is text.
        assert_eq!(sniff(b"title\nMis\xe9rables\n"), Looks::Text { skip: 0 });
        // A column that happens to start with bzip2's letters is text too.
        assert_eq!(sniff(b"BZh9,x\n1,2\n"), Looks::Text { skip: 0 });
    }

    #[test]
    fn refuses_utf16_and_binary_saying_what_they_look_like() {
        let utf16le: Vec<u8> = "user,item\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = "user,item\n".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let looks = |bytes: &[u8]| match sniff(bytes) {
            Looks::Refused(what) => what,
            other => panic!("{bytes:?}: {other:?}"),
        };
        assert!(looks(&utf16le).starts_with("looks like UTF-16 text (little-endian, every other byte is 0)"));
        assert!(looks(&utf16be).starts_with("looks like UTF-16 text (big-endian, every other byte is 0)"));
        assert!(looks(&[b"\xff\xfe", &utf16le[..]].concat()).contains("byte order mark FF FE"));
        assert!(looks(b"PK\x03\x04rest").starts_with("looks like a zip archive"));
        assert!(looks(b"BZh91AY&SYrest").starts_with("looks like bzip2-compressed data"));
        assert!(looks(b"ab\x00cd").contains("a 0 byte at offset 2"));
    }
}
