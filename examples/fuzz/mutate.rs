//! Mutations for the fuzz targets, driven by `arbitrary`'s `Unstructured` (so a case is a
//! pure function of its seed): boundary values, structured edits of TOML and JSON
//! documents (set, remove or add a key), and byte-level flips, truncations and splices.

use arbitrary::{Result, Unstructured};

/// Stand-in strings put into a document in place of raw text that the document's own
/// types cannot hold (an integer past i64, `1e999` in JSON); replaced after serialising.
const PLACEHOLDER: &str = "__fuzz_raw_";

/// Raw TOML values at and beyond the boundaries of every type a key may have.
pub fn toml_boundary(u: &mut Unstructured, words: &[&str]) -> Result<String> {
    const FIXED: &[&str] = &[
        "0",
        "1",
        "-1",
        "2",
        "3",
        "4096",
        "4097",
        "65536",
        "65537",
        "1048576",
        "1048577",
        "2147483647",
        "4294967295",
        "4294967296",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
        "nan",
        "-nan",
        "inf",
        "-inf",
        "1e308",
        "-1e308",
        "5e-324",
        "-0.0",
        "0.5",
        "0.999999999",
        "1.0",
        "1.5",
        "true",
        "false",
        "\"\"",
        "\" \"",
        "\"/dev/zero\"",
        "\"/dev/null\"",
        "\"/\"",
        "\"..\"",
        "\"${HOME}\"",
        "\"${UNSET_FUZZ_VARIABLE}\"",
        "\"${\"",
        "\"cuda:99999999999999999999\"",
        "\"cuda:\"",
        "\"é🦀\\u202e\\u0000\"",
        "[]",
        "[0]",
        "[1]",
        "[-1]",
        "[0.0, 0.0, 0.0]",
        "[nan, nan, nan]",
        "[inf, 1.0, 2.0]",
        "[1.0, 0.0, 0.0]",
        "[\"\"]",
        "[true, false]",
        "[[]]",
        "{}",
        "{ a = 1 }",
        "1979-05-27T07:32:00Z",
    ];
    Ok(match u.int_in_range(0..=9)? {
        0..=3 => u.choose(FIXED)?.to_string(),
        4 => format!("{}", u.int_in_range(0..=300i64)?),
        5 => toml_string(&long_string(u)?),
        6 => format!("\"{}\"", u.choose(words)?),
        7 => {
            let n = u.int_in_range(0..=6)?;
            let items: Vec<String> =
                (0..n).map(|_| Ok(format!("{}", u.int_in_range(0..=64u32)?))).collect::<Result<_>>()?;
            format!("[{}]", items.join(", "))
        }
        8 => {
            let n = u.int_in_range(1..=4)?;
            let items: Vec<String> = (0..n).map(|_| Ok(format!("\"{}\"", u.choose(words)?))).collect::<Result<_>>()?;
            format!("[{}]", items.join(", "))
        }
        _ => match u.int_in_range(0..=4)? {
            0 => format!("[{}]", vec!["1"; u.int_in_range(100..=20_000)?].join(",")),
            1 => nested('[', ']', u.int_in_range(1..=5000)?),
            2 => {
                let depth = u.int_in_range(1..=3000)?;
                format!("{}1{}", "{ a = ".repeat(depth), " }".repeat(depth))
            }
            3 => format!("{}", f64::from_bits(u.arbitrary()?)).replace("NaN", "nan"),
            _ => format!("{}", u.arbitrary::<i64>()?),
        },
    })
}

/// `[[[...]]]` nested `depth` deep.
fn nested(open: char, close: char, depth: usize) -> String {
    format!("{}{}", open.to_string().repeat(depth), close.to_string().repeat(depth))
}

fn long_string(u: &mut Unstructured) -> Result<String> {
    let unit = *u.choose(&["x", "é", "🦀", " ", "\\", "\"", "\n", "a_b-c", "${X}"])?;
    Ok(unit.repeat(u.int_in_range(100..=100_000)?))
}

fn toml_string(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '"' => "\\\"".chars().collect::<Vec<_>>(),
            '\\' => "\\\\".chars().collect(),
            '\n' => "\\n".chars().collect(),
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// A key path of a TOML document: `a.b.c`; `t[].k` means key `k` of a random entry of the
/// array of tables `t`.
fn table_for<'d>(
    u: &mut Unstructured,
    root: &'d mut toml_edit::Table,
    path: &[&str],
) -> Result<Option<&'d mut toml_edit::Table>> {
    let mut table = root;
    for part in path {
        if let Some(name) = part.strip_suffix("[]") {
            let Some(array) = table.get_mut(name).and_then(|i| i.as_array_of_tables_mut()) else {
                return Ok(None);
            };
            if array.is_empty() {
                return Ok(None);
            }
            let index = u.choose_index(array.len())?;
            table = array.get_mut(index).expect("index in range");
        } else {
            let item = table.entry(part).or_insert_with(toml_edit::table);
            match item.as_table_mut() {
                Some(t) => table = t,
                None => return Ok(None),
            }
        }
    }
    Ok(Some(table))
}

/// Applies one to four structured edits to a TOML document (set a known key to a
/// plausible or a boundary value, remove it, add an unknown key, add or drop an entry of
/// an array of tables), then sometimes byte-level mutations. `keys` lists the key paths,
/// `plausible` gives values that pass validation often enough to reach deeper code.
pub fn toml_document(
    u: &mut Unstructured,
    text: &str,
    keys: &[&str],
    words: &[&str],
    plausible: fn(&mut Unstructured, &str) -> Result<Option<String>>,
    others: &[&[u8]],
) -> Result<Vec<u8>> {
    let Ok(mut doc) = text.parse::<toml_edit::DocumentMut>() else {
        let mut bytes = text.as_bytes().to_vec();
        self::bytes(u, &mut bytes, others)?;
        return Ok(bytes);
    };
    let mut raw = Vec::new();
    for _ in 0..u.int_in_range(1..=4)? {
        let key = *u.choose(keys)?;
        let parts: Vec<&str> = key.split('.').collect();
        let (last, parents) = parts.split_last().expect("keys are not empty");
        let op = u.int_in_range(0..=9)?;
        let value = match op {
            0..=4 => plausible(u, key)?,
            _ => None,
        };
        let value = match value {
            Some(v) => v,
            None => toml_boundary(u, words)?,
        };
        let unknown = format!("fuzz_{}", u.int_in_range(0..=99u8)?);
        let Some(table) = table_for(u, doc.as_table_mut(), parents)? else { continue };
        match op {
            0..=6 => {
                table.insert(last, toml_edit::value(format!("{PLACEHOLDER}{}", raw.len())));
                raw.push(value);
            }
            7 => {
                table.remove(last);
            }
            8 => {
                table.insert(&unknown, toml_edit::value(format!("{PLACEHOLDER}{}", raw.len())));
                raw.push(value);
            }
            _ => {
                // Arrays of tables: duplicate or drop an entry.
                let name = last.trim_end_matches("[]");
                if let Some(array) = table.get_mut(name).and_then(|i| i.as_array_of_tables_mut())
                    && !array.is_empty()
                {
                    let index = u.choose_index(array.len())?;
                    if u.arbitrary()? {
                        array.remove(index);
                    } else {
                        let copy = array.get(index).expect("index in range").clone();
                        array.push(copy);
                    }
                }
            }
        }
    }
    let mut out = doc.to_string();
    // Later placeholders first: `__fuzz_raw_1` is a prefix of `__fuzz_raw_10`.
    for (i, value) in raw.iter().enumerate().rev() {
        out = out.replace(&format!("\"{PLACEHOLDER}{i}\""), value);
    }
    let mut bytes = out.into_bytes();
    if u.ratio(1, 5)? {
        self::bytes(u, &mut bytes, others)?;
    }
    Ok(bytes)
}

/// Raw JSON values at and beyond the boundaries (some are not valid JSON on purpose).
pub fn json_boundary(u: &mut Unstructured) -> Result<String> {
    const FIXED: &[&str] = &[
        "0",
        "1",
        "-1",
        "0.5",
        "1e308",
        "-1e308",
        "1e999",
        "-0",
        "5e-324",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "4294967296",
        "null",
        "true",
        "false",
        "\"\"",
        "\"NaN\"",
        "\"finished\"",
        "\"valid\"",
        "\"test\"",
        "[]",
        "{}",
        "[null]",
        "NaN",
        "Infinity",
    ];
    Ok(match u.int_in_range(0..=5)? {
        0..=2 => u.choose(FIXED)?.to_string(),
        3 => serde_json::to_string(&long_string(u)?).expect("strings serialise"),
        4 => nested('[', ']', u.int_in_range(1..=5000)?),
        _ => match u.int_in_range(0..=2)? {
            0 => format!("{}", u.arbitrary::<u64>()?),
            1 => format!("{:e}", f64::from_bits(u.arbitrary()?)),
            _ => format!("{}", u.int_in_range(0..=1000)?),
        },
    })
}

/// Every JSON pointer of `value`'s nodes.
fn pointers(value: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Applies one to three edits to a JSON document (replace a node by a boundary value,
/// remove a member, add an unknown one), then sometimes byte-level mutations.
pub fn json_document(u: &mut Unstructured, text: &[u8], others: &[&[u8]]) -> Result<Vec<u8>> {
    let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(text) else {
        let mut bytes = text.to_vec();
        self::bytes(u, &mut bytes, others)?;
        return Ok(bytes);
    };
    let mut raw = Vec::new();
    for _ in 0..u.int_in_range(1..=3)? {
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        let pointer = u.choose(&all)?.clone();
        let placeholder = serde_json::Value::String(format!("{PLACEHOLDER}{}", raw.len()));
        match u.int_in_range(0..=5)? {
            0..=3 => {
                if let Some(node) = doc.pointer_mut(&pointer) {
                    *node = placeholder;
                    raw.push(json_boundary(u)?);
                }
            }
            4 => {
                let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", ""));
                if let Some(serde_json::Value::Object(map)) = doc.pointer_mut(parent) {
                    map.remove(key);
                }
            }
            _ => {
                if let Some(serde_json::Value::Object(map)) = doc.pointer_mut(&pointer) {
                    map.insert(format!("fuzz_{}", u.int_in_range(0..=9u8)?), placeholder);
                    raw.push(json_boundary(u)?);
                }
            }
        }
    }
    let mut out = serde_json::to_string(&doc).expect("values serialise");
    for (i, value) in raw.iter().enumerate().rev() {
        out = out.replace(&format!("\"{PLACEHOLDER}{i}\""), value);
    }
    let mut bytes = out.into_bytes();
    if u.ratio(1, 6)? {
        self::bytes(u, &mut bytes, others)?;
    }
    Ok(bytes)
}

/// Bytes that parsers treat specially.
const INTERESTING: &[u8] = b"\0\xff\x80\xc3\"'\\\n\r\t ,|:=[]{}#-.0123456789eE";

/// One to four byte-level mutations: bit flips, interesting bytes, truncation,
/// insertion, deletion, duplication, repetition, splices with `others`.
pub fn bytes(u: &mut Unstructured, data: &mut Vec<u8>, others: &[&[u8]]) -> Result<()> {
    for _ in 0..u.int_in_range(1..=4)? {
        let len = data.len();
        let at = u.int_in_range(0..=len)?;
        let until = u.int_in_range(at..=len.min(at + 64))?;
        match u.int_in_range(0..=8)? {
            0 if at < len => data[at] ^= 1 << u.int_in_range(0..=7)?,
            1 if at < len => data[at] = *u.choose(INTERESTING)?,
            2 => data.truncate(at),
            3 => {
                let n = u.int_in_range(1..=16)?;
                let inserted: Vec<u8> = (0..n).map(|_| Ok(*u.choose(INTERESTING)?)).collect::<Result<_>>()?;
                data.splice(at..at, inserted);
            }
            4 => {
                data.drain(at..until);
            }
            5 => {
                let copy = data[at..until].to_vec();
                data.splice(at..at, copy);
            }
            6 => {
                let copy = data[at..until].repeat(u.int_in_range(2..=2000)?);
                data.splice(at..until, copy);
            }
            7 if !others.is_empty() => {
                let other = *u.choose(others)?;
                let from = u.int_in_range(0..=other.len())?;
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            _ => {
                let n = u.int_in_range(1..=8)?;
                let random = u.bytes(n)?.to_vec();
                data.splice(at..at, random);
            }
        }
    }
    Ok(())
}
