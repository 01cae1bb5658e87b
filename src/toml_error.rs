//! Parsing of user-written TOML files (dataset descriptors, experiments, workspaces, run
//! manifests) and their errors. Every message names the file, the line and column, and
//! the key path, e.g. `datasets/x.toml:7:8: fields[1].kind: unknown variant`. A bottom
//! module: `data` and `config` both use it (re-exported as `config::{ConfigError, parse_toml}`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A problem in a TOML file a user wrote, located as precisely as the file allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column of the offending key or value, when known.
    pub position: Option<(usize, usize)>,
    /// Dotted key path such as `fields[2].kind`, when the problem belongs to a key.
    pub key: Option<String>,
    pub message: String,
}

impl std::error::Error for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ConfigError {
    /// An error about the value at `key` (a path like `fields[1].kind`) in `text`.
    pub fn at_key(file: &Path, text: &str, key: &str, message: impl Into<String>) -> Self {
        let position = span_of_key(text, key).map(|span| line_column(text, span.start));
        ConfigError {
            file: file.to_path_buf(),
            position,
            key: (!key.is_empty()).then(|| key.to_string()),
            message: message.into(),
        }
    }

    /// An error at byte offset `at` of `text` (when known), about `key`: for files whose
    /// key paths [`ConfigError::at_key`] cannot spell, such as a study's quoted
    /// `"apg.rank"` keys, located by the caller.
    pub fn at_offset(file: &Path, text: &str, at: Option<usize>, key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            position: at.map(|offset| line_column(text, offset)),
            key: (!key.is_empty()).then(|| key.to_string()),
            message: message.into(),
        }
    }

    /// An error about the file as a whole (it cannot be read, it is empty...).
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError { file: file.to_path_buf(), position: None, key: None, message: message.into() }
    }
}

/// Reads a user-written file as text, refusing anything but a regular file: a path to
/// `/dev/zero` would be read until memory runs out, and a FIFO would block until a
/// writer comes.
pub fn read_file(path: &Path) -> Result<String, ConfigError> {
    read_regular(path).map_err(|e| ConfigError::whole_file(path, format!("cannot read: {e}")))
}

/// Reads a file as text, refusing anything but a regular file: a FIFO would block the
/// read until a writer comes, and a device such as /dev/zero never ends. A missing file
/// is still `NotFound`.
pub fn read_regular(path: &Path) -> std::io::Result<String> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    std::fs::read_to_string(path)
}

/// Parses `text` (the contents of `file`) into `T`, turning syntax errors, unknown keys
/// and wrong types into a [`ConfigError`] with line, column and key path.
pub fn parse_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| syntax_error(file, text, &e))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let mut path = e.path().to_string();
        // The path of an unknown key ends in that key, which the message names already:
        // report the table that holds it (the position still points at the key).
        if e.inner().message().starts_with("unknown field") {
            path.truncate(path.rfind('.').unwrap_or(0));
        }
        let key = (path != "." && !path.is_empty()).then_some(path);
        from_toml(file, text, e.inner(), key)
    })
}

fn from_toml(file: &Path, text: &str, error: &toml::de::Error, key: Option<String>) -> ConfigError {
    let span = error.span().or_else(|| key.as_deref().and_then(|k| span_of_key(text, k)));
    ConfigError {
        file: file.to_path_buf(),
        position: span.map(|s| line_column(text, s.start)),
        key,
        message: error.message().trim().to_string(),
    }
}

/// A TOML syntax error. The parser notices that something is missing (a `]`, a `,`, a
/// closing quote) only at the next token, which may be lines further down; the mistake
/// is then at the end of the last line that holds something.
fn syntax_error(file: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let mut located = from_toml(file, text, error, None);
    if let Some(span) = error.span()
        && located.message.contains("expected")
        && let Some(at) = end_of_previous_content(text, span.start)
    {
        located.position = Some(at);
    }
    located
}

/// Where the last non-blank, non-comment line before `offset` ends, when only blank
/// lines and comments lie between it and `offset`, and `offset` is the first thing on its
/// own line.
fn end_of_previous_content(text: &str, offset: usize) -> Option<(usize, usize)> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    if line_start == 0 || !text[line_start..offset].trim().is_empty() {
        return None;
    }
    let before = &text[..line_start - 1];
    let lines: Vec<&str> = before.lines().collect();
    let (number, line) = lines.iter().enumerate().rev().find(|(_, l)| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    })?;
    Some((number + 1, line.trim_end().chars().count() + 1))
}

/// 1-based (line, column) of a byte offset; the column counts characters.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// One step of a key path: a table key or an array index.
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn parse_key_path(path: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            segments.push(Segment::Key(name));
        }
        while let Some(end) = rest.find(']') {
            if let Ok(index) = rest[1..end].parse() {
                segments.push(Segment::Index(index));
            }
            rest = &rest[end + 1..];
        }
    }
    segments
}

/// Byte span of the deepest part of `path` that exists in the document: the key itself
/// where the document has it, else its nearest parent.
fn span_of_key(text: &str, path: &str) -> Option<Range<usize>> {
    let document = toml_edit::Document::parse(text).ok()?;
    let mut item = document.as_item();
    let mut best = None;
    for segment in parse_key_path(path) {
        // A `[table]` is located at its header, any other key at the key itself (not its
        // value), an array element at the element.
        let (key_span, next) = match segment {
            Segment::Key(key) => match item.as_table_like().and_then(|t| t.get_key_value(key)) {
                Some((k, v)) => (k.span(), v),
                None => break,
            },
            Segment::Index(index) => match item.get(index) {
                Some(v) => (None, v),
                None => break,
            },
        };
        item = next;
        best = item.as_table().and_then(|t| t.span()).or(key_span).or_else(|| item.span()).or(best);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        size: u32,
    }

    fn error(text: &str) -> String {
        parse_toml::<Doc>(Path::new("f.toml"), text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_key_names_line_and_path() {
        let message = error("name = \"a\"\n\n[[items]]\nsize = 1\n\n[[items]]\nsise = 2\n");
        assert!(message.starts_with("f.toml:7:1: items[1]: unknown field `sise`"), "{message}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let message = error("name = \"a\"\n[[items]]\nsize = \"big\"\n");
        assert!(message.starts_with("f.toml:3:8: items[0].size: invalid type"), "{message}");
    }

    #[test]
    fn an_unclosed_array_is_reported_on_its_own_line_not_the_next() {
        // `items` never closes; the parser stumbles on line 4 (after a comment line).
        let message = error("name = \"a\"\nlist = [1, 2\n# a comment\n\nsize = 3\n");
        assert!(message.starts_with("f.toml:2:13: "), "{message}");
    }

    #[test]
    fn an_unknown_key_at_the_start_of_a_line_stays_on_its_line() {
        let message = error("name = \"a\"\n\ncolour = 1\n");
        assert!(message.starts_with("f.toml:3:1: "), "{message}");
    }

    #[test]
    fn a_duplicate_key_stays_on_the_line_of_the_duplicate() {
        let message = error("name = \"a\"\nname = \"b\"\n");
        assert!(message.starts_with("f.toml:2:1: "), "{message}");
    }

    #[test]
    fn syntax_error_has_a_position() {
        let message = error("name = \"a\nsize = 3\n");
        assert!(message.starts_with("f.toml:1:"), "{message}");
    }

    #[test]
    fn semantic_error_locates_nested_keys() {
        let text = "name = \"a\"\n[[items]]\nsize = 1\n[[items]]\nsize = 0\n";
        let e = ConfigError::at_key(Path::new("f.toml"), text, "items[1].size", "must be positive");
        assert_eq!(e.to_string(), "f.toml:5:1: items[1].size: must be positive");
    }
}
